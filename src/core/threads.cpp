#include "core/threads.hpp"

#include <pthread.h>

namespace ucr::core {

void name_thread(const char* name) noexcept { static_cast<void>(pthread_setname_np(pthread_self(), name)); }

}  // namespace ucr::core
