#include "core/error.hpp"

namespace ucr::core {

const std::string& Error::message() const {
  static const std::string kEmpty;
  return issues.empty() ? kEmpty : issues.front().diagnostics;
}

Error Error::make(int status, std::string code, std::string diagnostics, std::string expression) {
  Error e;
  e.status = status;
  e.issues.push_back(Issue{"error", std::move(code), std::move(diagnostics), std::move(expression)});
  return e;
}

void throw_exception_from_error(const Error& e, const boost::source_location& /*loc*/) { throw ErrorException(e); }

}  // namespace ucr::core
