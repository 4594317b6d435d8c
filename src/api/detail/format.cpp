#include "api/detail/format.hpp"

#include "fhir/json_text.hpp"

#include <boost/json.hpp>

namespace ucr::api::detail {
namespace {

void pretty(std::string& out, const boost::json::value& v, int depth) {
  const auto indent = [&](int d) { out.append(static_cast<std::size_t>(d) * 2, ' '); };
  if (const auto* o = v.if_object()) {
    if (o->empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    bool first = true;
    for (const auto& kv : *o) {
      if (!first) out += ",\n";
      first = false;
      indent(depth + 1);
      out += quoted(kv.key());
      out += ": ";
      pretty(out, kv.value(), depth + 1);
    }
    out += "\n";
    indent(depth);
    out += "}";
  } else if (const auto* a = v.if_array()) {
    if (a->empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (std::size_t i = 0; i < a->size(); ++i) {
      if (i > 0) out += ",\n";
      indent(depth + 1);
      pretty(out, (*a)[i], depth + 1);
    }
    out += "\n";
    indent(depth);
    out += "]";
  } else {
    fhir::write_json(v, out);
  }
}

}  // namespace

std::string pretty_json(const boost::json::value& v) {
  std::string out;
  pretty(out, v, 0);
  out += "\n";
  return out;
}

std::string quoted(std::string_view s) { return boost::json::serialize(boost::json::string_view(s.data(), s.size())); }

}  // namespace ucr::api::detail
