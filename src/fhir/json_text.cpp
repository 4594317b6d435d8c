#include "fhir/json_text.hpp"

#include <boost/json.hpp>

#include <array>
#include <charconv>
#include <cmath>

namespace ucr::fhir {

std::string decimal_text(double d) {
  if (!std::isfinite(d)) return "null";  // JSON has no NaN or infinity; the validator refuses them first
  std::array<char, 400> buf{};
  const double magnitude = std::fabs(d);
  const bool plain = magnitude == 0 || (magnitude < 1e21 && magnitude >= 1e-7);
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), d,
                               plain ? std::chars_format::fixed : std::chars_format::scientific);
  return std::string(buf.data(), r.ptr);
}

void write_json(const boost::json::value& v, std::string& out) {
  switch (v.kind()) {
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += boost::json::serialize(kv.key());
        out += ':';
        write_json(kv.value(), out);
      }
      out += '}';
      return;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& x : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write_json(x, out);
      }
      out += ']';
      return;
    }
    case boost::json::kind::double_:
      out += decimal_text(v.get_double());
      return;
    default:
      out += boost::json::serialize(v);
      return;
  }
}

std::string json_text(const boost::json::value& v) {
  std::string out;
  write_json(v, out);
  return out;
}

}  // namespace ucr::fhir
