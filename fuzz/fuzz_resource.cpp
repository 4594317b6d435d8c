// libFuzzer target: arbitrary bytes as the body of POST /fhir/Patient (create), through Api::handle over SQLite.
// A finding is a crash, a sanitizer report, or any 5xx answer.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ucr::fuzz::post("/fhir/Patient", data, size);
  return 0;
}
