#include "server/io_context_pool.h"

#include <algorithm>
#include <exception>

#include "common/logging.h"
#include "common/thread_name.h"

namespace sluice::server {

IoContextPool::IoContextPool(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
}

void IoContextPool::Start(const char* thread_name, std::string what) {
  for (auto& context : contexts_) work_.push_back(boost::asio::make_work_guard(*context));
  for (auto& context : contexts_) {
    threads_.emplace_back([context = context.get(), thread_name, what] {
      SetThreadName(thread_name);
      for (;;) {
        try {
          context->run();
          return;
        } catch (const std::exception& e) {
          SLUICE_LOG_ERROR("{}: unexpected exception in an io thread: {}", what, e.what());
        }
      }
    });
  }
}

void IoContextPool::Stop(std::chrono::milliseconds drain) {
  work_.clear();
  if (threads_.empty()) return;
  const auto deadline = std::chrono::steady_clock::now() + drain;
  const auto all_stopped = [&] {
    return std::all_of(contexts_.begin(), contexts_.end(), [](const auto& c) { return c->stopped(); });
  };
  while (!all_stopped() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& context : contexts_) context->stop();
  for (std::thread& t : threads_) {
    // From one of the pool's own threads (never done today) a join would deadlock.
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else {
      t.join();
    }
  }
  threads_.clear();
}

}  // namespace sluice::server
