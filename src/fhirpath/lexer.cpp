#include "fhirpath/lexer.hpp"

#include "fhirpath/ast.hpp"

namespace ucr::fhirpath {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : s_(text) {}

  core::Result<std::vector<Token>> run() {
    std::vector<Token> out;
    while (true) {
      if (auto r = skip_space(); !r) return r.error();
      if (i_ >= s_.size()) break;
      auto t = next();
      if (!t) return t.error();
      out.push_back(std::move(*t));
    }
    out.push_back(Token{TokenKind::kEnd, "", s_.size()});
    return out;
  }

 private:
  core::Error error(std::size_t at, std::string_view message) const { return make_error(s_, at, message); }

  core::Result<void> skip_space() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f') {
        ++i_;
      } else if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '/') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '*') {
        std::size_t start = i_;
        auto end = s_.find("*/", i_ + 2);
        if (end == std::string_view::npos) return error(start, "unterminated comment");
        i_ = end + 2;
      } else {
        break;
      }
    }
    return core::ok();
  }

  /// Decodes a quoted string/identifier starting at the opening quote.
  core::Result<std::string> quoted(char quote) {
    std::size_t start = i_++;
    std::string out;
    while (i_ < s_.size() && s_[i_] != quote) {
      char c = s_[i_++];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= s_.size()) break;
      char e = s_[i_++];
      switch (e) {
        case '\'':
        case '"':
        case '`':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          if (i_ + 4 > s_.size()) return error(i_ - 2, "invalid \\u escape");
          std::uint32_t cp = 0;
          for (int k = 0; k < 4; ++k) {
            char h = s_[i_++];
            cp <<= 4;
            if (is_digit(h)) {
              cp |= static_cast<std::uint32_t>(h - '0');
            } else if (h >= 'a' && h <= 'f') {
              cp |= static_cast<std::uint32_t>(h - 'a' + 10);
            } else if (h >= 'A' && h <= 'F') {
              cp |= static_cast<std::uint32_t>(h - 'A' + 10);
            } else {
              return error(i_ - 1, "invalid \\u escape");
            }
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return error(i_ - 2, std::string("invalid escape \\") + e);
      }
    }
    if (i_ >= s_.size()) return error(start, quote == '\'' ? "unterminated string" : "unterminated identifier");
    ++i_;
    return out;
  }

  std::size_t count_digits(std::size_t at) const {
    std::size_t n = 0;
    while (at + n < s_.size() && is_digit(s_[at + n])) ++n;
    return n;
  }

  /// Scans hh[:mm[:ss[.fff]]] at i_; returns false when no hour digits.
  bool scan_clock() {
    if (count_digits(i_) != 2) return false;
    i_ += 2;
    if (i_ < s_.size() && s_[i_] == ':' && count_digits(i_ + 1) == 2) {
      i_ += 3;
      if (i_ < s_.size() && s_[i_] == ':' && count_digits(i_ + 1) == 2) {
        i_ += 3;
        if (i_ < s_.size() && s_[i_] == '.' && count_digits(i_ + 1) > 0) i_ += 1 + count_digits(i_ + 1);
      }
    }
    return true;
  }

  core::Result<Token> temporal(std::size_t start) {
    ++i_;  // '@'
    if (i_ < s_.size() && s_[i_] == 'T') {
      ++i_;
      std::size_t body = i_;
      if (!scan_clock()) return error(start, "invalid time literal");
      return Token{TokenKind::kTime, std::string(s_.substr(body, i_ - body)), start};
    }
    std::size_t body = i_;
    if (count_digits(i_) != 4) return error(start, "invalid date literal");
    i_ += 4;
    if (i_ < s_.size() && s_[i_] == '-' && count_digits(i_ + 1) == 2) {
      i_ += 3;
      if (i_ < s_.size() && s_[i_] == '-' && count_digits(i_ + 1) == 2) i_ += 3;
    }
    if (i_ >= s_.size() || s_[i_] != 'T')
      return Token{TokenKind::kDate, std::string(s_.substr(body, i_ - body)), start};
    ++i_;
    if (scan_clock()) {
      if (i_ < s_.size() && s_[i_] == 'Z') {
        ++i_;
      } else if (i_ + 6 <= s_.size() && (s_[i_] == '+' || s_[i_] == '-') && count_digits(i_ + 1) == 2 &&
                 s_[i_ + 3] == ':' && count_digits(i_ + 4) == 2) {
        i_ += 6;
      }
    }
    return Token{TokenKind::kDateTime, std::string(s_.substr(body, i_ - body)), start};
  }

  core::Result<Token> next() {
    std::size_t start = i_;
    char c = s_[i_];
    if (is_ident_start(c)) {
      while (i_ < s_.size() && is_ident_char(s_[i_])) ++i_;
      return Token{TokenKind::kIdentifier, std::string(s_.substr(start, i_ - start)), start};
    }
    if (is_digit(c)) {
      i_ += count_digits(i_);
      if (i_ + 1 < s_.size() && s_[i_] == '.' && is_digit(s_[i_ + 1])) i_ += 1 + count_digits(i_ + 1);
      return Token{TokenKind::kNumber, std::string(s_.substr(start, i_ - start)), start};
    }
    if (c == '\'') {
      auto text = quoted('\'');
      if (!text) return text.error();
      return Token{TokenKind::kString, std::move(*text), start};
    }
    if (c == '`') {
      auto text = quoted('`');
      if (!text) return text.error();
      return Token{TokenKind::kDelimitedIdentifier, std::move(*text), start};
    }
    if (c == '@') return temporal(start);
    if (c == '%') {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '`' || s_[i_] == '\'')) {
        auto text = quoted(s_[i_]);
        if (!text) return text.error();
        return Token{TokenKind::kVariable, std::move(*text), start};
      }
      std::size_t name = i_;
      while (i_ < s_.size() && is_ident_char(s_[i_])) ++i_;
      if (i_ == name) return error(start, "expected a variable name after '%'");
      return Token{TokenKind::kVariable, std::string(s_.substr(name, i_ - name)), start};
    }
    if (c == '$') {
      ++i_;
      std::size_t name = i_;
      while (i_ < s_.size() && is_ident_char(s_[i_])) ++i_;
      std::string_view word = s_.substr(name, i_ - name);
      if (word != "this" && word != "index" && word != "total") {
        return error(start, "unknown special variable '$" + std::string(word) + "'");
      }
      return Token{TokenKind::kSpecial, std::string(word), start};
    }
    static constexpr std::string_view kTwo[] = {"!=", "!~", "<=", ">="};
    for (std::string_view op : kTwo) {
      if (s_.substr(i_, 2) == op) {
        i_ += 2;
        return Token{TokenKind::kSymbol, std::string(op), start};
      }
    }
    static constexpr std::string_view kOne = ".[](){},=~<>+-*/&|";
    if (kOne.find(c) != std::string_view::npos) {
      ++i_;
      return Token{TokenKind::kSymbol, std::string(1, c), start};
    }
    return error(start, std::string("unexpected character '") + c + "'");
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

core::Result<std::vector<Token>> tokenize(std::string_view text) { return Lexer(text).run(); }

}  // namespace ucr::fhirpath
