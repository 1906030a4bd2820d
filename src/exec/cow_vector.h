#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace sluice::exec {

// A vector kept in fixed-size chunks that copies share until one of them writes (copy on
// write, per chunk). Copying costs one pointer per chunk, so a view's thread can capture a
// large state for a checkpoint in microseconds and serialise the copy on another thread while
// it goes on; the first write to a chunk the copy still holds clones that chunk.
//
// Thread-safety: one owner mutates; copies may be read on other threads concurrently, since a
// chunk shared with a copy is never written in place. (use_count() only drops while another
// thread releases a copy, so a stale answer only costs an unneeded clone.)
template <typename T, size_t kChunk = 1024>
class CowVector {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  const T& operator[](size_t i) const { return (*chunks_[i / kChunk])[i % kChunk]; }
  // For writing: the chunk of `i` becomes this vector's own first.
  T& Mutable(size_t i) { return (*Own(i / kChunk))[i % kChunk]; }
  const T& back() const { return (*this)[size_ - 1]; }

  void push_back(T value) {
    // A new chunk grows as it fills (a small vector stays small).
    if (size_ % kChunk == 0) chunks_.push_back(std::make_shared<std::vector<T>>());
    Own(size_ / kChunk)->push_back(std::move(value));
    ++size_;
  }
  void pop_back() {
    if (--size_ % kChunk == 0) {
      chunks_.pop_back();  // its only element goes: no clone needed
    } else {
      Own(size_ / kChunk)->pop_back();
    }
  }
  void clear() {
    chunks_.clear();
    size_ = 0;
  }
  void reserve(size_t n) { chunks_.reserve((n + kChunk - 1) / kChunk); }

 private:
  std::vector<T>* Own(size_t chunk) {
    std::shared_ptr<std::vector<T>>& c = chunks_[chunk];
    if (c.use_count() > 1) c = std::make_shared<std::vector<T>>(*c);
    return c.get();
  }

  std::vector<std::shared_ptr<std::vector<T>>> chunks_;
  size_t size_ = 0;
};

}  // namespace sluice::exec
