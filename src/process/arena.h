// Arena: the shared memory between the server and one worker process,
// through which tensors travel without being serialized.
//
// The memory is a memfd (memfd_create): it has no name in /dev/shm or
// anywhere else another process could open; the only way in is the file
// descriptor, which the server hands to its own worker over the control
// channel (SCM_RIGHTS). It is sealed against growing and shrinking, so
// neither side can make the other's mapping fault. Both map all of it.
//
// It has two halves: the server writes inputs into the first, the worker
// writes outputs into the second. Each side allocates only in its own half
// (an ArenaAllocator), writes a payload once, and sends its offset and size;
// the other side reads it in place. An input block is the server's again
// when its call's reply arrives (or an output that echoes it is dropped); an
// output block goes back to the worker when the server says so (kRelease).
//
//   auto arena = SharedArena::create(256 << 20);        // server
//   ArenaAllocator inputs(0, arena->half());
//   std::optional<std::uint64_t> at = inputs.allocate(bytes.size());
//   std::memcpy(arena->data() + *at, bytes.data(), bytes.size());
//
// Thread safety: the mapping may be used from any thread; ArenaAllocator is
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "modelpool/status.h"

namespace modelpool::process {

class SharedArena {
 public:
  // A new sealed memfd of `bytes` (rounded up to pages), mapped.
  static Result<std::shared_ptr<SharedArena>> create(std::size_t bytes);
  // Maps the arena behind `fd` (received from the server); takes the fd.
  // kInvalidArgument when it is not a sealed memfd of a sane size.
  static Result<std::shared_ptr<SharedArena>> attach(int fd);
  ~SharedArena();
  SharedArena(const SharedArena&) = delete;
  SharedArena& operator=(const SharedArena&) = delete;

  char* data() const { return base_; }
  std::size_t size() const { return size_; }
  // Bytes of each half: [0, half) inputs, [half, 2 * half) outputs.
  std::size_t half() const { return size_ / 2; }
  int fd() const { return fd_; }
  // Whether [p, p + n) lies inside the mapping; its offset when it does.
  std::optional<std::uint64_t> offset_of(const char* p, std::size_t n) const;

 private:
  SharedArena(int fd, char* base, std::size_t size) : fd_(fd), base_(base), size_(size) {}
  // Maps `bytes` of `fd`; takes the fd (closed on failure).
  static Result<std::shared_ptr<SharedArena>> map_arena(int fd, std::size_t bytes);
  int fd_;
  char* base_;
  std::size_t size_;
};

// First-fit allocation of 64-byte-aligned blocks in [begin, begin + size).
class ArenaAllocator {
 public:
  ArenaAllocator(std::uint64_t begin, std::uint64_t size);

  // A block of at least `bytes` (0 counts as 1); nullopt when no free run
  // is large enough now.
  std::optional<std::uint64_t> allocate(std::uint64_t bytes);
  // Frees the block at `offset`; false when no block starts there (a
  // confused or hostile peer: nothing is freed).
  bool free(std::uint64_t offset);
  std::uint64_t capacity() const { return size_; }
  std::uint64_t used() const;

 private:
  const std::uint64_t begin_;
  const std::uint64_t size_;
  mutable std::mutex mu_;
  std::map<std::uint64_t, std::uint64_t> free_;  // offset -> size, coalesced
  std::map<std::uint64_t, std::uint64_t> used_;  // offset -> size
  std::uint64_t used_bytes_ = 0;
};

}  // namespace modelpool::process
