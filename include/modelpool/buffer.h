// Buffer: read-only bytes with a shared owner, so that a payload can travel
// from where it was made (an HTTP body, an engine's output, a shared-memory
// region) to where it is used without being copied.
//
//   Buffer body = Buffer::adopt(std::move(text));       // takes the string
//   Buffer head = body.slice(0, 16);                    // same owner, no copy
//   Buffer view(owner, ptr, size);                      // any owner at all
//
// Copying a Buffer copies a pointer and bumps a reference count; the bytes
// live until the last Buffer that views them goes. A Buffer never changes the
// bytes it views, and neither may anyone else while a Buffer views them.
//
// Thread safety: a Buffer may be read from any number of threads; copies may
// be made and dropped concurrently (shared_ptr's rules).
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace modelpool {

class Buffer {
 public:
  Buffer() = default;
  // Views [data, data + size), kept alive by `owner`.
  Buffer(std::shared_ptr<const void> owner, const char* data, std::size_t size)
      : owner_(std::move(owner)), data_(data), size_(size) {}

  // Takes `bytes` without copying them.
  static Buffer adopt(std::string bytes) {
    auto owner = std::make_shared<const std::string>(std::move(bytes));
    const char* data = owner->data();
    const std::size_t size = owner->size();
    return Buffer(std::move(owner), data, size);
  }
  // Copies `bytes` into a new owner (the one copy, where one is needed).
  static Buffer copy(std::string_view bytes) { return adopt(std::string(bytes)); }

  const char* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {data_, size_}; }
  const std::shared_ptr<const void>& owner() const { return owner_; }

  // [offset, offset + size) of this view, sharing its owner.
  // REQUIRES: offset + size <= this->size().
  Buffer slice(std::size_t offset, std::size_t size) const { return Buffer(owner_, data_ + offset, size); }

  // Compares the bytes.
  friend bool operator==(const Buffer& a, const Buffer& b) { return a.view() == b.view(); }
  friend bool operator==(const Buffer& a, std::string_view b) { return a.view() == b; }

 private:
  std::shared_ptr<const void> owner_;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace modelpool
