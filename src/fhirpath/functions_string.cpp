// String functions: indexOf, substring, startsWith, ..., matches, replaceMatches, split/join, encode/decode,
// escape/unescape. Positions and lengths count Unicode code points (UTF-8 input).
#include "fhirpath/evaluator.hpp"
#include "fhirpath/functions.hpp"
#include "fhirpath/model.hpp"

#include <algorithm>
#include <cctype>
#include <regex>

namespace ucr::fhirpath {
namespace {

using R = core::Result<Collection>;
using OptString = std::optional<std::string>;

Collection str(std::string s) { return Collection{Value::string(std::move(s))}; }
Collection boolean(bool b) { return Collection{Value::boolean(b)}; }

core::Result<OptString> input_string(Evaluator& ev, const Node& call, const Collection& in) {
  if (in.empty()) return OptString();
  if (in.size() > 1)
    return ev.error(call, "'" + call.name + "' needs a single string, got " + std::to_string(in.size()) + " items");
  auto s = string_value(to_system(in.front()));
  if (!s) return ev.error(call, "'" + call.name + "' needs a string input");
  return OptString(std::move(*s));
}

core::Result<OptString> string_arg(Evaluator& ev, const Node& call, std::size_t i, const Scope& scope) {
  UCR_FP_TRY(c, ev.arg(call, i, scope));
  UCR_FP_TRY(v, singleton(ev, *call.args[i], c));
  if (v == nullptr) return OptString();
  auto s = string_value(to_system(*v));
  if (!s) return ev.error(*call.args[i], "expected a string argument");
  return OptString(std::move(*s));
}

core::Result<std::optional<std::int64_t>> int_arg(Evaluator& ev, const Node& call, std::size_t i, const Scope& scope) {
  UCR_FP_TRY(c, ev.arg(call, i, scope));
  UCR_FP_TRY(v, singleton(ev, *call.args[i], c));
  if (v == nullptr) return std::optional<std::int64_t>();
  Value s = to_system(*v);
  if (s.kind != ValueKind::kInteger) return ev.error(*call.args[i], "expected an Integer argument");
  return std::optional<std::int64_t>(s.as_integer());
}

/// input_string() as a view into the input (or into `store` when the text had to be converted).
core::Result<std::optional<std::string_view>> input_text(Evaluator& ev, const Node& call, const Collection& in,
                                                         std::string& store) {
  if (in.empty()) return std::optional<std::string_view>();
  if (in.size() > 1)
    return ev.error(call, "'" + call.name + "' needs a single string, got " + std::to_string(in.size()) + " items");
  if (auto text = plain_string(in.front())) return text;
  auto s = string_value(to_system(in.front()));
  if (!s) return ev.error(call, "'" + call.name + "' needs a string input");
  store = std::move(*s);
  return std::optional<std::string_view>(store);
}

/// string_arg() as a view into a literal argument or the input JSON (or into `store` otherwise).
core::Result<std::optional<std::string_view>> text_arg(Evaluator& ev, const Node& call, std::size_t i,
                                                       const Scope& scope, std::string& store) {
  Collection items;
  UCR_FP_TRY(c, ev.arg_items(call, i, scope, items));
  UCR_FP_TRY(v, singleton(ev, *call.args[i], *c));
  if (v == nullptr) return std::optional<std::string_view>();
  // A view stays valid when it points into the literal or the input document, not into `items`.
  if (c != &items || v->is_node()) {
    if (auto text = plain_string(*v)) return text;
  }
  auto s = string_value(to_system(*v));
  if (!s) return ev.error(*call.args[i], "expected a string argument");
  store = std::move(*s);
  return std::optional<std::string_view>(store);
}

/// Byte offsets of each code point, plus the end.
std::vector<std::size_t> code_points(std::string_view s) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) out.push_back(i);
  }
  out.push_back(s.size());
  return out;
}

R fn_index_of(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(s, input_string(ev, call, in));
  UCR_FP_TRY(sub, string_arg(ev, call, 0, scope));
  if (!s || !sub) return Collection{};
  auto pos = s->find(*sub);
  if (pos == std::string::npos) return Collection{Value::integer(-1)};
  auto cps = code_points(*s);
  auto idx = std::lower_bound(cps.begin(), cps.end(), pos) - cps.begin();
  return Collection{Value::integer(idx)};
}

R fn_substring(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(s, input_string(ev, call, in));
  UCR_FP_TRY(start, int_arg(ev, call, 0, scope));
  if (!s || !start) return Collection{};
  auto cps = code_points(*s);
  auto n = static_cast<std::int64_t>(cps.size() - 1);
  if (*start < 0 || *start >= n) return Collection{};
  std::int64_t len = n - *start;
  if (call.args.size() > 1) {
    UCR_FP_TRY(l, int_arg(ev, call, 1, scope));
    if (l) len = std::clamp<std::int64_t>(*l, 0, n - *start);
  }
  std::size_t b = cps[static_cast<std::size_t>(*start)], e = cps[static_cast<std::size_t>(*start + len)];
  return str(s->substr(b, e - b));
}

template <int kMode>  // 0 startsWith, 1 endsWith, 2 contains
R fn_affix(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  std::string s_store;
  std::string sub_store;
  UCR_FP_TRY(s, input_text(ev, call, in, s_store));
  UCR_FP_TRY(sub, text_arg(ev, call, 0, scope, sub_store));
  if (!s || !sub) return Collection{};
  if (kMode == 0) return boolean(s->starts_with(*sub));
  if (kMode == 1) return boolean(s->ends_with(*sub));
  return boolean(s->find(*sub) != std::string_view::npos);
}

template <bool kUpper>
R fn_case(Evaluator& ev, const Node& call, const Collection& in, const Scope&) {
  UCR_FP_TRY(s, input_string(ev, call, in));
  if (!s) return Collection{};
  for (char& c : *s) {
    c = static_cast<char>(kUpper ? std::toupper(static_cast<unsigned char>(c))
                                 : std::tolower(static_cast<unsigned char>(c)));
  }
  return str(std::move(*s));
}

R fn_replace(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(s, input_string(ev, call, in));
  UCR_FP_TRY(pattern, string_arg(ev, call, 0, scope));
  UCR_FP_TRY(with, string_arg(ev, call, 1, scope));
  if (!s || !pattern || !with) return Collection{};
  std::string out;
  if (pattern->empty()) {
    auto cps = code_points(*s);
    out = *with;
    for (std::size_t i = 0; i + 1 < cps.size(); ++i) out += s->substr(cps[i], cps[i + 1] - cps[i]) + *with;
    return str(std::move(out));
  }
  std::size_t pos = 0;
  while (true) {
    auto hit = s->find(*pattern, pos);
    if (hit == std::string::npos) break;
    out.append(*s, pos, hit - pos);
    out += *with;
    pos = hit + pattern->size();
  }
  out.append(*s, pos, std::string::npos);
  return str(std::move(out));
}

/// FHIRPath regexes are single-line mode ('.' matches newlines); std::regex has no such flag.
std::string dot_all(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      out.push_back(c);
      out.push_back(pattern[++i]);
      continue;
    }
    if (c == '[') in_class = true;
    if (c == ']') in_class = false;
    if (c == '.' && !in_class) {
      out += "[\\s\\S]";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

core::Result<std::regex> make_regex(Evaluator& ev, const Node& at, const std::string& pattern) {
  try {
    return std::regex(dot_all(pattern), std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return ev.error(at, "invalid regular expression '" + pattern + "'");
  }
}

template <bool kFull>
R fn_matches(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(s, input_string(ev, call, in));
  UCR_FP_TRY(pattern, string_arg(ev, call, 0, scope));
  if (!s || !pattern) return Collection{};
  UCR_FP_TRY(re, make_regex(ev, *call.args[0], *pattern));
  try {
    return boolean(kFull ? std::regex_match(*s, re) : std::regex_search(*s, re));
  } catch (const std::regex_error&) {
    return ev.error(call, "regular expression too complex");
  }
}

R fn_replace_matches(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(s, input_string(ev, call, in));
  UCR_FP_TRY(pattern, string_arg(ev, call, 0, scope));
  UCR_FP_TRY(with, string_arg(ev, call, 1, scope));
  if (!s || !pattern || !with) return Collection{};
  if (pattern->empty()) return str(std::move(*s));
  UCR_FP_TRY(re, make_regex(ev, *call.args[0], *pattern));
  try {
    return str(std::regex_replace(*s, re, *with));
  } catch (const std::regex_error&) {
    return ev.error(call, "regular expression too complex");
  }
}

R fn_length(Evaluator& ev, const Node& call, const Collection& in, const Scope&) {
  UCR_FP_TRY(s, input_string(ev, call, in));
  if (!s) return Collection{};
  return Collection{Value::integer(static_cast<std::int64_t>(code_points(*s).size() - 1))};
}

R fn_to_chars(Evaluator& ev, const Node& call, const Collection& in, const Scope&) {
  UCR_FP_TRY(s, input_string(ev, call, in));
  if (!s) return Collection{};
  auto cps = code_points(*s);
  Collection out;
  for (std::size_t i = 0; i + 1 < cps.size(); ++i) out.push_back(Value::string(s->substr(cps[i], cps[i + 1] - cps[i])));
  return out;
}

R fn_trim(Evaluator& ev, const Node& call, const Collection& in, const Scope&) {
  UCR_FP_TRY(s, input_string(ev, call, in));
  if (!s) return Collection{};
  auto ws = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  std::size_t b = 0, e = s->size();
  while (b < e && ws((*s)[b])) ++b;
  while (e > b && ws((*s)[e - 1])) --e;
  return str(s->substr(b, e - b));
}

R fn_split(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(s, input_string(ev, call, in));
  UCR_FP_TRY(sep, string_arg(ev, call, 0, scope));
  if (!s || !sep) return Collection{};
  Collection out;
  if (sep->empty()) return fn_to_chars(ev, call, in, scope);
  std::size_t pos = 0;
  while (true) {
    auto hit = s->find(*sep, pos);
    out.push_back(Value::string(s->substr(pos, hit == std::string::npos ? std::string::npos : hit - pos)));
    if (hit == std::string::npos) break;
    pos = hit + sep->size();
  }
  return out;
}

R fn_join(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  std::string sep;
  if (!call.args.empty()) {
    UCR_FP_TRY(s, string_arg(ev, call, 0, scope));
    if (s) sep = *s;
  }
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    auto s = string_value(to_system(in[i]));
    if (!s) return ev.error(call, "join() needs string items");
    if (i > 0) out += sep;
    out += *s;
  }
  return str(std::move(out));
}

constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in, bool url) {
  std::string out;
  std::size_t i = 0;
  for (; i < in.size(); i += 3) {
    std::uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out.push_back(kBase64[(n >> 18) & 63]);
    out.push_back(kBase64[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kBase64[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? kBase64[n & 63] : '=');
  }
  if (url) {
    std::replace(out.begin(), out.end(), '+', '-');
    std::replace(out.begin(), out.end(), '/', '_');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  std::uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    if (c == '-') c = '+';
    if (c == '_') c = '/';
    auto p = kBase64.find(c);
    if (p == std::string_view::npos) return std::nullopt;
    buf = (buf << 6) | static_cast<std::uint32_t>(p);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xFF));
    }
  }
  return out;
}

R fn_encode(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(s, input_string(ev, call, in));
  UCR_FP_TRY(format, string_arg(ev, call, 0, scope));
  if (!s || !format) return Collection{};
  bool encode = call.name == "encode";
  if (*format == "base64" || *format == "urlbase64") {
    if (encode) return str(base64_encode(*s, *format == "urlbase64"));
    auto d = base64_decode(*s);
    return d ? str(std::move(*d)) : Collection{};
  }
  if (*format == "hex") {
    static constexpr std::string_view kHex = "0123456789abcdef";
    std::string out;
    if (encode) {
      for (char c : *s) {
        out.push_back(kHex[(static_cast<unsigned char>(c) >> 4) & 15]);
        out.push_back(kHex[static_cast<unsigned char>(c) & 15]);
      }
      return str(std::move(out));
    }
    if (s->size() % 2 != 0) return Collection{};
    for (std::size_t i = 0; i < s->size(); i += 2) {
      auto hi = kHex.find(static_cast<char>(std::tolower(static_cast<unsigned char>((*s)[i]))));
      auto lo = kHex.find(static_cast<char>(std::tolower(static_cast<unsigned char>((*s)[i + 1]))));
      if (hi == std::string_view::npos || lo == std::string_view::npos) return Collection{};
      out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return str(std::move(out));
  }
  return ev.error(*call.args[0], "unknown encoding '" + *format + "'");
}

R fn_escape(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(s, input_string(ev, call, in));
  UCR_FP_TRY(format, string_arg(ev, call, 0, scope));
  if (!s || !format) return Collection{};
  bool escape = call.name == "escape";
  std::string out;
  if (*format == "html") {
    static constexpr std::pair<char, std::string_view> kEntities[] = {
        {'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"}, {'"', "&quot;"}, {'\'', "&#39;"}};
    if (escape) {
      for (char c : *s) {
        auto it = std::find_if(std::begin(kEntities), std::end(kEntities), [&](const auto& e) { return e.first == c; });
        if (it != std::end(kEntities)) {
          out += it->second;
        } else {
          out.push_back(c);
        }
      }
      return str(std::move(out));
    }
    for (std::size_t i = 0; i < s->size();) {
      bool hit = false;
      for (const auto& [c, entity] : kEntities) {
        if (std::string_view(*s).substr(i).starts_with(entity)) {
          out.push_back(c);
          i += entity.size();
          hit = true;
          break;
        }
      }
      if (!hit) out.push_back((*s)[i++]);
    }
    return str(std::move(out));
  }
  if (*format == "json") {
    if (escape) {
      for (char c : *s) {
        switch (c) {
          case '"':
            out += "\\\"";
            break;
          case '\\':
            out += "\\\\";
            break;
          case '\n':
            out += "\\n";
            break;
          case '\r':
            out += "\\r";
            break;
          case '\t':
            out += "\\t";
            break;
          default:
            out.push_back(c);
        }
      }
      return str(std::move(out));
    }
    for (std::size_t i = 0; i < s->size(); ++i) {
      char c = (*s)[i];
      if (c == '\\' && i + 1 < s->size()) {
        char e = (*s)[++i];
        out.push_back(e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e);
      } else {
        out.push_back(c);
      }
    }
    return str(std::move(out));
  }
  return ev.error(*call.args[0], "unknown escape format '" + *format + "'");
}

constexpr FunctionDef kFunctions[] = {
    {"indexOf", fn_index_of, 1, 1},
    {"substring", fn_substring, 1, 2},
    {"startsWith", fn_affix<0>, 1, 1},
    {"endsWith", fn_affix<1>, 1, 1},
    {"contains", fn_affix<2>, 1, 1},
    {"upper", fn_case<true>, 0, 0},
    {"lower", fn_case<false>, 0, 0},
    {"replace", fn_replace, 2, 2},
    {"matches", fn_matches<false>, 1, 1},
    {"matchesFull", fn_matches<true>, 1, 1},
    {"replaceMatches", fn_replace_matches, 2, 2},
    {"length", fn_length, 0, 0},
    {"toChars", fn_to_chars, 0, 0},
    {"trim", fn_trim, 0, 0},
    {"split", fn_split, 1, 1},
    {"join", fn_join, 0, 1},
    {"encode", fn_encode, 1, 1},
    {"decode", fn_encode, 1, 1},
    {"escape", fn_escape, 1, 1},
    {"unescape", fn_escape, 1, 1},
};

}  // namespace

std::span<const FunctionDef> string_functions() { return kFunctions; }

}  // namespace ucr::fhirpath
