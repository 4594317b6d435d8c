// core/threads: names for the program's own threads, so `top -H`, `perf` and debuggers show
// which is the store's writer, a loader or an HTTP worker.
#pragma once

namespace ucr::core {

/// Names the calling thread (Linux keeps the first 15 characters).
void name_thread(const char* name) noexcept;

}  // namespace ucr::core
