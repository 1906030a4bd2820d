#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace sluice::server {

// Network threads with one io_context each. A connection is placed on one context (Next) and
// all its handlers run on that context's thread: no strand, and no handler handing off to
// another thread (a wake-up of another thread per request costs more than a point query).
// Only for servers whose handlers never block: a slow handler stalls every connection of its
// thread (pgwire sends whatever may block to its query pool; the HTTP server, which runs some
// statements inline, keeps strands over one shared io_context).
// Next is thread-safe; Start and Stop are called once each, from one thread.
class IoContextPool {
 public:
  explicit IoContextPool(int threads);
  ~IoContextPool() { Stop(std::chrono::milliseconds(0)); }

  // Starts one thread per context, named `thread_name`. An exception escaping a handler is
  // logged under `what` and the thread keeps running.
  void Start(const char* thread_name, std::string what);
  // The contexts in turn.
  boost::asio::io_context& Next() { return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()]; }
  boost::asio::io_context& first() { return *contexts_.front(); }
  size_t size() const { return contexts_.size(); }

  // Lets the threads end once their handlers are done, waiting up to `drain` for that, then
  // stops the contexts and joins the threads. Idempotent.
  void Stop(std::chrono::milliseconds drain);

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
};

}  // namespace sluice::server
