// FHIRPath parser: precedence climbing over the lexer's tokens, producing the AST of ast.hpp.
#include "fhirpath/ast.hpp"
#include "fhirpath/functions.hpp"
#include "fhirpath/lexer.hpp"
#include "fhirpath/model.hpp"

#include <limits>

namespace ucr::fhirpath {

std::string position_of(std::string_view text, std::size_t offset) {
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

core::Error make_error(std::string_view text, std::size_t offset, std::string_view message) {
  return core::Error::invalid("fhirpath " + position_of(text, offset) + ": " + std::string(message), std::string(text));
}

namespace {

struct BinaryInfo {
  std::string_view text;
  bool keyword;
  BinaryOp op;
  int precedence;
};

// Lowest precedence first: implies < or/xor < and < in/contains < equality < inequality < | < is/as
// (handled separately at 8) < additive < multiplicative.
constexpr BinaryInfo kBinary[] = {
    {"implies", true, BinaryOp::kImplies, 1}, {"or", true, BinaryOp::kOr, 2},
    {"xor", true, BinaryOp::kXor, 2},         {"and", true, BinaryOp::kAnd, 3},
    {"in", true, BinaryOp::kIn, 4},           {"contains", true, BinaryOp::kContains, 4},
    {"=", false, BinaryOp::kEq, 5},           {"!=", false, BinaryOp::kNe, 5},
    {"~", false, BinaryOp::kEquiv, 5},        {"!~", false, BinaryOp::kNotEquiv, 5},
    {"<", false, BinaryOp::kLt, 6},           {"<=", false, BinaryOp::kLe, 6},
    {">", false, BinaryOp::kGt, 6},           {">=", false, BinaryOp::kGe, 6},
    {"|", false, BinaryOp::kUnion, 7},        {"+", false, BinaryOp::kAdd, 9},
    {"-", false, BinaryOp::kSub, 9},          {"&", false, BinaryOp::kConcat, 9},
    {"*", false, BinaryOp::kMul, 10},         {"/", false, BinaryOp::kDiv, 10},
    {"div", true, BinaryOp::kIntDiv, 10},     {"mod", true, BinaryOp::kMod, 10},
};
constexpr int kTypePrecedence = 8;

class Parser {
 public:
  Parser(std::string_view text, std::vector<Token> tokens) : text_(text), tokens_(std::move(tokens)) {}

  core::Result<std::unique_ptr<Node>> run() {
    if (peek().kind == TokenKind::kEnd) return error(peek(), "empty expression");
    auto e = expression(0);
    if (!e) return e;
    if (peek().kind != TokenKind::kEnd) return error(peek(), "unexpected '" + peek().text + "'");
    return e;
  }

 private:
  const Token& peek(std::size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& take() { return tokens_[std::min(pos_++, tokens_.size() - 1)]; }
  bool is_symbol(std::string_view s, std::size_t ahead = 0) const {
    return peek(ahead).kind == TokenKind::kSymbol && peek(ahead).text == s;
  }
  core::Error error(const Token& t, std::string_view message) const {
    std::string m(message);
    if (t.kind == TokenKind::kEnd) m += " (at end of expression)";
    return make_error(text_, t.offset, m);
  }
  core::Result<void> expect(std::string_view symbol) {
    if (!is_symbol(symbol)) {
      return error(peek(), "expected '" + std::string(symbol) + "' but found " +
                               (peek().kind == TokenKind::kEnd ? std::string("end") : "'" + peek().text + "'"));
    }
    ++pos_;
    return core::ok();
  }

  const BinaryInfo* binary_at() const {
    const Token& t = peek();
    if (t.kind != TokenKind::kSymbol && t.kind != TokenKind::kIdentifier) return nullptr;
    for (const auto& b : kBinary) {
      if (b.text == t.text && b.keyword == (t.kind == TokenKind::kIdentifier)) return &b;
    }
    return nullptr;
  }

  /// Counts nesting so hostile input cannot exhaust the stack.
  struct Nesting {
    explicit Nesting(int& d) : depth(++d) {}
    ~Nesting() { --depth; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;
    int& depth;
  };
  static constexpr int kMaxNesting = 200;

  core::Result<std::unique_ptr<Node>> expression(int min_precedence) {
    Nesting nesting(depth_);
    if (depth_ > kMaxNesting) return error(peek(), "expression nested too deeply");
    auto lhs = unary();
    if (!lhs) return lhs;
    while (true) {
      const Token& t = peek();
      if (t.kind == TokenKind::kIdentifier && (t.text == "is" || t.text == "as") && kTypePrecedence >= min_precedence) {
        ++pos_;
        auto node = std::make_unique<Node>();
        node->kind = NodeKind::kTypeOp;
        node->offset = t.offset;
        node->is_as = t.text == "as";
        auto spec = type_specifier();
        if (!spec) return spec.error();
        node->type = std::move(*spec);
        node->target = std::move(*lhs);
        lhs = std::move(node);
        continue;
      }
      const BinaryInfo* b = binary_at();
      if (b == nullptr || b->precedence < min_precedence) return lhs;
      std::size_t at = t.offset;
      ++pos_;
      auto rhs = expression(b->precedence + 1);
      if (!rhs) return rhs;
      auto node = std::make_unique<Node>();
      node->kind = NodeKind::kBinary;
      node->op = b->op;
      node->offset = at;
      node->args.push_back(std::move(*lhs));
      node->args.push_back(std::move(*rhs));
      lhs = std::move(node);
    }
  }

  core::Result<std::unique_ptr<Node>> unary() {
    Nesting nesting(depth_);
    if (depth_ > kMaxNesting) return error(peek(), "expression nested too deeply");
    if (is_symbol("+") || is_symbol("-")) {
      const Token& t = take();
      auto operand = unary();
      if (!operand) return operand;
      // Fold a sign into a numeric literal so -1 is an Integer literal.
      Node& o = **operand;
      if (o.kind == NodeKind::kLiteral && o.literal.size() == 1 && !o.target) {
        Value& v = o.literal.front();
        if (t.text == "+" &&
            (v.kind == ValueKind::kInteger || v.kind == ValueKind::kDecimal || v.kind == ValueKind::kQuantity)) {
          return operand;
        }
        if (v.kind == ValueKind::kInteger && v.as_integer() != std::numeric_limits<std::int64_t>::min()) {
          v.data = -v.as_integer();
          o.offset = t.offset;
          return operand;
        }
        if (v.kind == ValueKind::kDecimal) {
          v.data = v.as_decimal().negated();
          o.offset = t.offset;
          return operand;
        }
        if (v.kind == ValueKind::kQuantity) {
          Quantity q = v.as_quantity();
          q.value = q.value.negated();
          v.data = q;
          o.offset = t.offset;
          return operand;
        }
      }
      auto node = std::make_unique<Node>();
      node->kind = NodeKind::kUnary;
      node->offset = t.offset;
      node->negate = t.text == "-";
      node->target = std::move(*operand);
      return node;
    }
    return postfix();
  }

  core::Result<std::unique_ptr<Node>> postfix() {
    auto lhs = term();
    if (!lhs) return lhs;
    while (true) {
      if (is_symbol(".")) {
        ++pos_;
        auto inv = invocation(std::move(*lhs));
        if (!inv) return inv;
        lhs = std::move(inv);
      } else if (is_symbol("[")) {
        std::size_t at = take().offset;
        auto index = expression(0);
        if (!index) return index;
        if (auto r = expect("]"); !r) return r.error();
        auto node = std::make_unique<Node>();
        node->kind = NodeKind::kIndexer;
        node->offset = at;
        node->target = std::move(*lhs);
        node->args.push_back(std::move(*index));
        lhs = std::move(node);
      } else {
        return lhs;
      }
    }
  }

  static std::unique_ptr<Node> literal(std::size_t offset, Collection values) {
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::kLiteral;
    node->offset = offset;
    node->literal = std::move(values);
    return node;
  }

  core::Result<std::unique_ptr<Node>> term() {
    const Token& t = peek();
    switch (t.kind) {
      case TokenKind::kNumber:
        return number();
      case TokenKind::kString:
        ++pos_;
        return literal(t.offset, {Value::string(t.text)});
      case TokenKind::kDate: {
        ++pos_;
        auto d = Temporal::parse_date(t.text);
        if (!d) return error(t, "invalid date literal '@" + t.text + "'");
        return literal(t.offset, {Value::temporal(*d)});
      }
      case TokenKind::kDateTime: {
        ++pos_;
        auto d = Temporal::parse_date_time(t.text);
        if (!d) return error(t, "invalid dateTime literal '@" + t.text + "'");
        return literal(t.offset, {Value::temporal(*d)});
      }
      case TokenKind::kTime: {
        ++pos_;
        auto d = Temporal::parse_time(t.text);
        if (!d) return error(t, "invalid time literal '@T" + t.text + "'");
        return literal(t.offset, {Value::temporal(*d)});
      }
      case TokenKind::kVariable: {
        ++pos_;
        auto node = std::make_unique<Node>();
        node->kind = NodeKind::kVariable;
        node->offset = t.offset;
        node->name = t.text;
        return node;
      }
      case TokenKind::kSpecial: {
        ++pos_;
        auto node = std::make_unique<Node>();
        node->kind = t.text == "this" ? NodeKind::kThis : (t.text == "index" ? NodeKind::kIndex : NodeKind::kTotal);
        node->offset = t.offset;
        return node;
      }
      case TokenKind::kSymbol:
        if (t.text == "(") {
          ++pos_;
          auto e = expression(0);
          if (!e) return e;
          if (auto r = expect(")"); !r) return r.error();
          return e;
        }
        if (t.text == "{") {
          ++pos_;
          if (auto r = expect("}"); !r) return r.error();
          return literal(t.offset, {});
        }
        return error(t, "unexpected '" + t.text + "'");
      case TokenKind::kIdentifier:
        if (t.text == "true" || t.text == "false") {
          ++pos_;
          return literal(t.offset, {Value::boolean(t.text == "true")});
        }
        return invocation(nullptr);
      case TokenKind::kDelimitedIdentifier:
        return invocation(nullptr);
      case TokenKind::kEnd:
        return error(t, "expected an expression");
    }
    return error(t, "unexpected token");
  }

  core::Result<std::unique_ptr<Node>> number() {
    const Token& t = take();
    Value v;
    if (t.text.find('.') == std::string::npos) {
      std::int64_t n = 0;
      for (char c : t.text) {
        if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, c - '0', &n)) {
          return error(t, "integer literal out of range");
        }
      }
      v = Value::integer(n);
    } else {
      auto d = Decimal::parse(t.text);
      if (!d) return error(t, "decimal literal out of range");
      v = Value::decimal(*d);
    }
    // A quantity: number followed by a unit string or a calendar duration keyword.
    const Token& u = peek();
    if (u.kind == TokenKind::kString || (u.kind == TokenKind::kIdentifier && is_calendar_keyword(u.text))) {
      ++pos_;
      Decimal d = v.kind == ValueKind::kInteger ? Decimal::from_int(v.as_integer()) : v.as_decimal();
      return literal(t.offset, {Value::quantity(Quantity{d, u.text})});
    }
    return literal(t.offset, {std::move(v)});
  }

  /// identifier, or identifier '(' args ')', applied to `target` (null: on $this).
  core::Result<std::unique_ptr<Node>> invocation(std::unique_ptr<Node> target) {
    const Token& t = peek();
    if (t.kind == TokenKind::kSpecial && target) return error(t, "'$" + t.text + "' cannot follow '.'");
    if (t.kind != TokenKind::kIdentifier && t.kind != TokenKind::kDelimitedIdentifier) {
      return error(t, "expected an identifier or function name");
    }
    ++pos_;
    auto node = std::make_unique<Node>();
    node->offset = t.offset;
    node->name = t.text;
    node->target = std::move(target);
    if (!is_symbol("(") || t.kind == TokenKind::kDelimitedIdentifier) {
      node->kind = NodeKind::kMember;
      return node;
    }
    ++pos_;
    node->kind = NodeKind::kFunction;
    const FunctionDef* def = find_function(t.text);
    if (def == nullptr) return error(t, "unknown function '" + t.text + "'");
    node->fn = def->impl;
    if (!is_symbol(")")) {
      while (true) {
        if (def->type_argument) {
          auto spec = type_specifier();
          if (!spec) return spec.error();
          node->type = std::move(*spec);
          node->args.push_back(nullptr);
        } else {
          auto arg = expression(0);
          if (!arg) return arg;
          node->args.push_back(std::move(*arg));
        }
        if (!is_symbol(",")) break;
        ++pos_;
      }
    }
    if (auto r = expect(")"); !r) return r.error();
    auto n = static_cast<int>(node->args.size());
    if (n < def->min_args || n > def->max_args) {
      std::string expected = def->min_args == def->max_args
                                 ? std::to_string(def->min_args)
                                 : std::to_string(def->min_args) + " to " + std::to_string(def->max_args);
      return error(t, "function '" + t.text + "' takes " + expected + " argument(s), got " + std::to_string(n));
    }
    return node;
  }

  core::Result<TypeSpec> type_specifier() {
    const Token& first = peek();
    if (first.kind != TokenKind::kIdentifier && first.kind != TokenKind::kDelimitedIdentifier) {
      return error(first, "expected a type name");
    }
    ++pos_;
    std::string ns, name = first.text;
    if (is_symbol(".") && (peek(1).kind == TokenKind::kIdentifier || peek(1).kind == TokenKind::kDelimitedIdentifier)) {
      pos_ += 1;
      ns = name;
      name = take().text;
    }
    auto spec = resolve_type(ns, name);
    if (!spec) return error(first, "unknown type '" + (ns.empty() ? name : ns + "." + name) + "'");
    return *spec;
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

core::Result<std::unique_ptr<Node>> parse(std::string_view text) {
  auto tokens = tokenize(text);
  if (!tokens) return tokens.error();
  return Parser(text, std::move(*tokens)).run();
}

}  // namespace ucr::fhirpath
