#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace sluice {

// Names the calling thread for top -H, perf and gdb ("sluice-http", "view:revenue"). Linux
// keeps 15 bytes of a name: longer ones are cut.
inline void SetThreadName(std::string_view name) {
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace sluice
