#include "mpi/normalise.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>

// Emitted by mpi_data.S (.incbin of data/mpi/nicknames.csv).
extern "C" const char ucr_mpi_nicknames_csv[];
extern "C" const std::uint64_t ucr_mpi_nicknames_csv_size;

namespace ucr::mpi {
namespace {

/// ASCII replacement of U+00C0..U+00FF (Latin-1 Supplement letters), "" for a non-letter (× ÷).
/// Facts from the Unicode code charts (Latin-1 Supplement).
constexpr std::array<std::string_view, 64> kLatin1 = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",   // C0-CF
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",  // D0-DF
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",   // E0-EF
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y",   // F0-FF
};

/// ASCII replacement of U+0100..U+017F (Latin Extended-A), from the Unicode code chart: mostly
/// upper/lower pairs of one base letter.
std::string_view latin_extended_a(char32_t cp) {
  struct Range {
    char32_t last;
    std::string_view ascii;
  };
  static constexpr std::array<Range, 22> kRanges = {{
      {0x0105, "a"}, {0x010D, "c"},  {0x0111, "d"}, {0x011B, "e"}, {0x0123, "g"}, {0x0127, "h"},
      {0x0131, "i"}, {0x0133, "ij"}, {0x0135, "j"}, {0x0138, "k"}, {0x0142, "l"}, {0x014B, "n"},
      {0x0151, "o"}, {0x0153, "oe"}, {0x0159, "r"}, {0x0161, "s"}, {0x0167, "t"}, {0x0173, "u"},
      {0x0175, "w"}, {0x0178, "y"},  {0x017E, "z"}, {0x017F, "s"},
  }};
  for (const auto& r : kRanges) {
    if (cp <= r.last) return r.ascii;
  }
  return {};
}

/// Decodes one UTF-8 sequence at s[i]; returns the code point and advances i. Invalid bytes decode as
/// themselves (so nothing is lost) with code point 0xFFFD.
char32_t decode(std::string_view s, std::size_t& i, std::size_t& len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  len = 1;
  char32_t cp = 0xFFFD;
  if (b0 < 0x80) {
    cp = b0;
  } else if ((b0 & 0xE0) == 0xC0 && i + 1 < s.size()) {
    len = 2;
    cp = ((b0 & 0x1FU) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3FU);
  } else if ((b0 & 0xF0) == 0xE0 && i + 2 < s.size()) {
    len = 3;
    cp = ((b0 & 0x0FU) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3FU) << 6) |
         (static_cast<unsigned char>(s[i + 2]) & 0x3FU);
  } else if ((b0 & 0xF8) == 0xF0 && i + 3 < s.size()) {
    len = 4;
    cp = ((b0 & 0x07U) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3FU) << 12) |
         ((static_cast<unsigned char>(s[i + 2]) & 0x3FU) << 6) | (static_cast<unsigned char>(s[i + 3]) & 0x3FU);
  }
  i += len;
  return cp;
}

void push_space(std::string& out) {
  if (!out.empty() && out.back() != ' ') out.push_back(' ');
}

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto j = std::min(s.find(' ', i), s.size());
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool in(std::string_view token, std::initializer_list<std::string_view> words) {
  return std::find(words.begin(), words.end(), token) != words.end();
}

/// The nickname table, parsed once from the compiled-in CSV; immutable afterwards.
class NicknameTable {
 public:
  NicknameTable() {
    const std::string_view csv(ucr_mpi_nicknames_csv, ucr_mpi_nicknames_csv_size);
    std::size_t i = 0;
    while (i < csv.size()) {
      const auto end = std::min(csv.find('\n', i), csv.size());
      auto line = csv.substr(i, end - i);
      i = end + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty() || line.front() == '#') continue;
      const auto comma = line.find(',');
      if (comma == std::string_view::npos) continue;
      auto& formals = formal_[std::string(line.substr(0, comma))];
      formals.emplace_back(line.substr(comma + 1));
      ++pairs_;
    }
  }

  [[nodiscard]] std::span<const std::string> formals(std::string_view name) const {
    const auto it = formal_.find(std::string(name));
    return it == formal_.end() ? std::span<const std::string>() : std::span<const std::string>(it->second);
  }
  [[nodiscard]] std::size_t pairs() const { return pairs_; }

 private:
  std::unordered_map<std::string, std::vector<std::string>> formal_;
  std::size_t pairs_ = 0;
};

const NicknameTable& nickname_table() {
  static const NicknameTable kTable;
  return kTable;
}

bool in_shapes(std::string_view shape) { return in(shape, {"A9", "A99", "AA9", "AA99", "A9A", "AA9A"}); }

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string fold(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    std::size_t len = 0;
    const char32_t cp = decode(text, i, len);
    if (cp < 0x80) {
      const auto c = static_cast<char>(cp);
      if (c >= 'A' && c <= 'Z') {
        out.push_back(static_cast<char>(c - 'A' + 'a'));
      } else if ((c >= 'a' && c <= 'z') || is_digit(c)) {
        out.push_back(c);
      } else if (c == '\'' || c == '`') {
        // Apostrophes join: O'Brien and OBrien are the same name.
      } else {
        push_space(out);
      }
    } else if (cp >= 0xC0 && cp <= 0xFF) {
      const auto ascii = kLatin1[cp - 0xC0];
      if (ascii.empty()) {
        push_space(out);
      } else {
        out.append(ascii);
      }
    } else if (cp >= 0x100 && cp <= 0x17F) {
      out.append(latin_extended_a(cp));
    } else if (cp == 0x2018 || cp == 0x2019 || cp == 0x02BC || cp == 0xB4) {
      // Typographic apostrophes and the acute accent used as one.
    } else if ((cp >= 0x80 && cp < 0xC0) || (cp >= 0x2000 && cp <= 0x206F)) {
      push_space(out);  // Latin-1 punctuation, general punctuation (dashes, quotes, spaces)
    } else {
      out.append(text.substr(start, len));
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool is_title(std::string_view t) {
  return in(t,
            {"mr",   "mrs",        "ms",       "miss", "mx",      "master", "dr",       "doctor", "prof", "professor",
             "rev",  "revd",       "reverend", "fr",   "father",  "sr",     "sister",   "sir",    "dame", "lord",
             "lady", "hon",        "rt",       "capt", "captain", "col",    "maj",      "major",  "lt",   "sgt",
             "cllr", "councillor", "rabbi",    "imam", "pastor",  "canon",  "baroness", "baron",  "count"});
}

bool is_name_suffix(std::string_view t) {
  return in(t, {"jr",  "jnr", "junior", "sr",   "snr",   "senior", "ii", "iii", "iv", "phd",
                "md",  "obe", "mbe",    "cbe",  "kbe",   "dbe",    "qc", "kc",  "mp", "esq",
                "bsc", "msc", "frcs",   "frcp", "mrcgp", "mrcp",   "rn", "jp",  "dl", "ba"});
}

std::vector<std::string> name_tokens(std::string_view text) {
  auto tokens = split(fold(text));
  std::vector<std::string> kept;
  kept.reserve(tokens.size());
  for (auto& t : tokens) {
    if (!is_title(t) && !is_name_suffix(t)) kept.push_back(std::move(t));
  }
  return kept.empty() ? tokens : kept;
}

std::string normalise_name(std::string_view text) {
  std::string out;
  for (const auto& t : name_tokens(text)) {
    if (!out.empty()) out.push_back(' ');
    out += t;
  }
  return out;
}

std::span<const std::string> formal_names_of(std::string_view folded) { return nickname_table().formals(folded); }

std::size_t nickname_pair_count() { return nickname_table().pairs(); }

bool are_name_variants(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) return false;
  if (a == b) return true;
  const auto fa = formal_names_of(a);
  const auto fb = formal_names_of(b);
  if (std::find(fa.begin(), fa.end(), b) != fa.end()) return true;
  if (std::find(fb.begin(), fb.end(), a) != fb.end()) return true;
  return std::any_of(fa.begin(), fa.end(),
                     [&](const std::string& f) { return std::find(fb.begin(), fb.end(), f) != fb.end(); });
}

std::string Postcode::area() const {
  std::string a;
  for (const char c : outward) {
    if (!is_upper(c)) break;
    a.push_back(c);
  }
  return a;
}

std::string Postcode::district() const {
  if (outward.size() >= 3 && is_upper(outward.back()) && is_digit(outward[outward.size() - 2])) {
    return outward.substr(0, outward.size() - 1);
  }
  return outward;
}

core::Result<Postcode> parse_postcode(std::string_view text) {
  std::string s;
  for (const char c : text) {
    if (c == ' ' || c == '\t') continue;
    s.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
  }
  const auto bad = [&] {
    return core::Error::invalid("Not a UK postcode: '" + std::string(text) + "'", "Patient.address.postalCode");
  };
  if (s == "GIR0AA") return Postcode{"GIR", "0AA"};
  if (s.size() < 5 || s.size() > 7) return bad();
  const std::string in = s.substr(s.size() - 3);
  const std::string out = s.substr(0, s.size() - 3);
  if (!is_digit(in[0]) || !is_upper(in[1]) || !is_upper(in[2])) return bad();
  // Outward code shapes: A9, A99, AA9, AA99, A9A, AA9A ('A' letter, '9' digit).
  std::string shape;
  for (const char c : out) {
    if (is_upper(c)) {
      shape.push_back('A');
    } else if (is_digit(c)) {
      shape.push_back('9');
    } else {
      return bad();
    }
  }
  if (!in_shapes(shape)) return bad();
  return Postcode{out, in};
}

std::string normalise_phone(std::string_view text) {
  std::string s(text);
  if (const auto p = s.find("(0)"); p != std::string::npos) s.erase(p, 3);
  std::string digits;
  bool plus = false;
  for (const char c : s) {
    if (is_digit(c)) {
      digits.push_back(c);
    } else if (c == '+' && digits.empty()) {
      plus = true;
    }
  }
  if (!plus && digits.starts_with("00")) {
    digits.erase(0, 2);
    plus = true;
  }
  if (plus) {
    if (digits.starts_with("44")) {
      digits.erase(0, 2);
      if (!digits.starts_with("0")) digits.insert(digits.begin(), '0');
    } else {
      digits.insert(digits.begin(), '+');
    }
  }
  const auto n = std::count_if(digits.begin(), digits.end(), is_digit);
  return n >= 6 ? digits : std::string();
}

std::string normalise_email(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '<')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '>' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  std::string s;
  for (const char c : text) s.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  if (s.starts_with("mailto:")) s.erase(0, 7);
  const auto at = s.find('@');
  if (at == std::string::npos || at == 0 || at + 1 >= s.size() || s.find('@', at + 1) != std::string::npos ||
      s.find(' ') != std::string::npos) {
    return {};
  }
  return s;
}

}  // namespace ucr::mpi
