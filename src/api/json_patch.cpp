#include "api/json_patch.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <charconv>
#include <string>
#include <vector>

namespace ucr::api {
namespace {

namespace json = boost::json;

core::Error bad_patch(std::size_t op, const std::string& what) {
  return core::Error::invalid(fmt::format("JSON Patch operation {}: {}", op, what), fmt::format("Patch[{}]", op));
}

core::Error cannot_apply(std::size_t op, const std::string& what) {
  return core::Error::unprocessable(fmt::format("JSON Patch operation {}: {}", op, what), fmt::format("Patch[{}]", op));
}

/// RFC 6901 pointer to reference tokens; empty optional when malformed.
std::optional<std::vector<std::string>> parse_pointer(std::string_view p) {
  std::vector<std::string> tokens;
  if (p.empty()) return tokens;
  if (p.front() != '/') return std::nullopt;
  std::string cur;
  for (std::size_t i = 1; i <= p.size(); ++i) {
    if (i == p.size() || p[i] == '/') {
      tokens.push_back(cur);
      cur.clear();
      continue;
    }
    if (p[i] == '~') {
      if (i + 1 >= p.size() || (p[i + 1] != '0' && p[i + 1] != '1')) return std::nullopt;
      cur.push_back(p[i + 1] == '0' ? '~' : '/');
      ++i;
      continue;
    }
    cur.push_back(p[i]);
  }
  return tokens;
}

std::optional<std::size_t> parse_index(const std::string& t) {
  if (t.empty() || (t.size() > 1 && t[0] == '0')) return std::nullopt;
  std::size_t v = 0;
  const auto* end = t.data() + t.size();
  auto [ptr, ec] = std::from_chars(t.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

json::value* resolve(json::value& doc, const std::vector<std::string>& tokens, std::size_t n) {
  json::value* cur = &doc;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& t = tokens[i];
    if (auto* obj = cur->if_object()) {
      auto it = obj->find(t);
      if (it == obj->end()) return nullptr;
      cur = &it->value();
    } else if (auto* arr = cur->if_array()) {
      auto idx = parse_index(t);
      if (!idx || *idx >= arr->size()) return nullptr;
      cur = &(*arr)[*idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

bool numbers_equal(const json::value& a, const json::value& b) {
  return a.is_number() && b.is_number() && a.to_number<double>() == b.to_number<double>();
}

bool deep_equal(const json::value& a, const json::value& b) {
  if (a.is_number() || b.is_number()) return numbers_equal(a, b);
  if (a.kind() != b.kind()) return false;
  if (const auto* oa = a.if_object()) {
    const auto& ob = b.get_object();
    if (oa->size() != ob.size()) return false;
    for (const auto& kv : *oa) {
      const auto* other = ob.if_contains(kv.key());
      if (other == nullptr || !deep_equal(kv.value(), *other)) return false;
    }
    return true;
  }
  if (const auto* aa = a.if_array()) {
    const auto& ab = b.get_array();
    if (aa->size() != ab.size()) return false;
    for (std::size_t i = 0; i < aa->size(); ++i) {
      if (!deep_equal((*aa)[i], ab[i])) return false;
    }
    return true;
  }
  return a == b;
}

core::Result<void> add_at(json::value& doc, const std::vector<std::string>& tokens, json::value v, std::size_t op) {
  if (tokens.empty()) {
    doc = std::move(v);
    return core::ok();
  }
  json::value* parent = resolve(doc, tokens, tokens.size() - 1);
  if (parent == nullptr) return cannot_apply(op, "the parent of the target path does not exist");
  const std::string& last = tokens.back();
  if (auto* obj = parent->if_object()) {
    (*obj)[last] = std::move(v);
    return core::ok();
  }
  if (auto* arr = parent->if_array()) {
    if (last == "-") {
      arr->push_back(std::move(v));
      return core::ok();
    }
    auto idx = parse_index(last);
    if (!idx || *idx > arr->size()) return cannot_apply(op, "array index out of range");
    arr->insert(arr->begin() + static_cast<std::ptrdiff_t>(*idx), std::move(v));
    return core::ok();
  }
  return cannot_apply(op, "the parent of the target path is not an object or array");
}

core::Result<json::value> remove_at(json::value& doc, const std::vector<std::string>& tokens, std::size_t op) {
  if (tokens.empty()) return cannot_apply(op, "cannot remove the whole document");
  json::value* parent = resolve(doc, tokens, tokens.size() - 1);
  if (parent == nullptr) return cannot_apply(op, "the target path does not exist");
  const std::string& last = tokens.back();
  if (auto* obj = parent->if_object()) {
    auto it = obj->find(last);
    if (it == obj->end()) return cannot_apply(op, "the target path does not exist");
    json::value out = std::move(it->value());
    obj->erase(it);
    return out;
  }
  if (auto* arr = parent->if_array()) {
    auto idx = parse_index(last);
    if (!idx || *idx >= arr->size()) return cannot_apply(op, "array index out of range");
    json::value out = std::move((*arr)[*idx]);
    arr->erase(arr->begin() + static_cast<std::ptrdiff_t>(*idx));
    return out;
  }
  return cannot_apply(op, "the target path does not exist");
}

}  // namespace

core::Result<void> apply_json_patch(json::value& doc, const json::value& patch) {
  const auto* ops = patch.if_array();
  if (ops == nullptr) return core::Error::invalid("a JSON Patch document must be an array of operations", "Patch");
  for (std::size_t i = 0; i < ops->size(); ++i) {
    const auto* o = (*ops)[i].if_object();
    if (o == nullptr) return bad_patch(i, "each operation must be an object");
    const auto* opv = o->if_contains("op");
    const auto* pathv = o->if_contains("path");
    if (opv == nullptr || !opv->is_string()) return bad_patch(i, "'op' is missing or not a string");
    if (pathv == nullptr || !pathv->is_string()) return bad_patch(i, "'path' is missing or not a string");
    const std::string op(opv->get_string());
    auto path = parse_pointer(pathv->get_string());
    if (!path) return bad_patch(i, "'path' is not a valid JSON Pointer");
    const auto* value = o->if_contains("value");
    std::optional<std::vector<std::string>> from;
    if (op == "move" || op == "copy") {
      const auto* fromv = o->if_contains("from");
      if (fromv == nullptr || !fromv->is_string()) return bad_patch(i, "'from' is missing or not a string");
      from = parse_pointer(fromv->get_string());
      if (!from) return bad_patch(i, "'from' is not a valid JSON Pointer");
    }
    if ((op == "add" || op == "replace" || op == "test") && value == nullptr) {
      return bad_patch(i, "'value' is missing");
    }
    if (op == "add") {
      if (auto r = add_at(doc, *path, *value, i); !r) return r;
    } else if (op == "remove") {
      if (auto r = remove_at(doc, *path, i); !r) return r.error();
    } else if (op == "replace") {
      json::value* target = resolve(doc, *path, path->size());
      if (target == nullptr) return cannot_apply(i, "the target path does not exist");
      *target = *value;
    } else if (op == "move") {
      if (from->size() <= path->size() && std::equal(from->begin(), from->end(), path->begin()) &&
          from->size() != path->size()) {
        return bad_patch(i, "cannot move a value into one of its own children");
      }
      auto moved = remove_at(doc, *from, i);
      if (!moved) return moved.error();
      if (auto r = add_at(doc, *path, std::move(*moved), i); !r) return r;
    } else if (op == "copy") {
      json::value* src = resolve(doc, *from, from->size());
      if (src == nullptr) return cannot_apply(i, "the 'from' path does not exist");
      json::value copy = *src;
      if (auto r = add_at(doc, *path, std::move(copy), i); !r) return r;
    } else if (op == "test") {
      json::value* target = resolve(doc, *path, path->size());
      if (target == nullptr || !deep_equal(*target, *value)) return cannot_apply(i, "test failed");
    } else {
      return bad_patch(i, fmt::format("unknown operation '{}'", op));
    }
  }
  return core::ok();
}

}  // namespace ucr::api
