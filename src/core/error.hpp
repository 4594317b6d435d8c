// core/error: the error value every module returns for expected failures, and Result<T>.
// Values only; safe to copy between threads.
#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <utility>
#include <vector>

namespace ucr::core {

/// One problem found in a request, in the shape of an OperationOutcome.issue.
struct Issue {
  std::string severity = "error";  ///< fatal | error | warning | information
  std::string code = "invalid";    ///< R4 IssueType code (invalid, structure, not-found, ...)
  std::string diagnostics;         ///< human-readable explanation
  std::string expression;          ///< FHIRPath location of the problem, empty when none
};

/// An expected failure: carries the HTTP status, FHIR issue code and the issues with locations.
struct Error {
  Error() = default;  // not an aggregate, so Result<int-like> converts from values unambiguously

  int status = 400;
  std::vector<Issue> issues;

  [[nodiscard]] const std::string& message() const;

  static Error make(int status, std::string code, std::string diagnostics, std::string expression = {});
  static Error invalid(std::string diagnostics, std::string expression = {}) {
    return make(400, "invalid", std::move(diagnostics), std::move(expression));
  }
  static Error not_found(std::string diagnostics) { return make(404, "not-found", std::move(diagnostics)); }
  static Error gone(std::string diagnostics) { return make(410, "deleted", std::move(diagnostics)); }
  static Error conflict(std::string diagnostics) { return make(409, "conflict", std::move(diagnostics)); }
  static Error precondition(std::string diagnostics) { return make(412, "conflict", std::move(diagnostics)); }
  static Error unprocessable(std::string diagnostics, std::string expression = {}) {
    return make(422, "processing", std::move(diagnostics), std::move(expression));
  }
  static Error not_supported(std::string diagnostics) { return make(400, "not-supported", std::move(diagnostics)); }
  static Error internal(std::string diagnostics) { return make(500, "exception", std::move(diagnostics)); }
};

/// Thrown only by Result::value() on an error; reaching it is a bug caught at a boundary.
class ErrorException : public std::exception {
 public:
  explicit ErrorException(Error e) : error_(std::move(e)) {}
  [[nodiscard]] const char* what() const noexcept override { return error_.message().c_str(); }
  [[nodiscard]] const Error& error() const { return error_; }

 private:
  Error error_;
};

[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;

/// Shorthand for a successful Result<void>.
inline Result<void> ok() { return {}; }

}  // namespace ucr::core
