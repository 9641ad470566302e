// ShmRegistry: the client shared-memory regions a server has registered
// (Triton's system shared memory extension, "system_shared_memory").
//
// A region is a range of a POSIX shared memory object that the client
// created (shm_open(O_CREAT) + ftruncate, e.g. /dev/shm/NAME, key "/NAME"),
// registered under a name of the client's choosing. Register opens the object
// O_RDWR, checks that the range lies within it, maps the range MAP_SHARED
// (read and write) and closes the descriptor. The server never creates,
// resizes or unlinks an object: it belongs to the client.
//
//   ShmRegistry regions;
//   Status s = regions.register_region("in", "/my_shm", 0, 4096);
//   Result<ShmSlice> x = regions.slice("in", 64, 16);   // bytes [64, 80) of "in"
//   Buffer view = x->buffer();                          // no copy; keeps the mapping
//   regions.unregister("in");                           // `view` stays valid
//
// Lifetime. A region's mapping is reference-counted: every ShmSlice and every
// Buffer made from one owns it. Unregister forgets the name at once (a
// request that names it afterwards gets kNotFound) and the mapping is
// unmapped when its last slice or Buffer goes, so a request that resolved the
// region before it was unregistered keeps reading and writing valid memory
// until it ends. Destroying the registry unregisters everything the same way.
//
// Trust. The client may write its object at any time; it must not write a
// range a request is reading (an input) while that request runs, nor shrink
// the object while it is registered (touching a page past the object's end
// raises SIGBUS in the server, as in Triton). That is why the server serves
// client shared memory only when started with --allow-client-shm.
//
// Thread safety: every method may be called from any thread. One mutex guards
// the name -> region map; shm_open, mmap and munmap happen outside it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "modelpool/buffer.h"
#include "modelpool/status.h"

namespace modelpool::server {

// What GET /v2/systemsharedmemory/status says of a region.
struct ShmRegionStatus {
  std::string name;
  std::string key;  // the POSIX shm object's name, "/..."
  std::uint64_t offset = 0;
  std::uint64_t byte_size = 0;
};

// A byte range of a registered region, owning the region's mapping (shared).
// Copies share the mapping.
class ShmSlice {
 public:
  ShmSlice() = default;

  const std::string& region() const { return region_; }
  // Where the slice starts within the region, and its length.
  std::uint64_t offset() const { return offset_; }
  std::size_t size() const { return size_; }
  const char* data() const { return data_; }

  // The bytes, read-only, viewing the mapping (no copy); the Buffer owns the
  // mapping too.
  Buffer buffer() const { return Buffer(mapping_, data_, size_); }

  // Copies `bytes` to the start of the slice (memmove: `bytes` may view the
  // same region, as an echoed input does).
  // REQUIRES: bytes.size() <= size().
  void write(std::string_view bytes) const;

 private:
  friend class ShmRegistry;
  std::shared_ptr<const void> mapping_;
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::string region_;
  std::uint64_t offset_ = 0;
};

class ShmRegistry {
 public:
  ShmRegistry() = default;
  // Unregisters every region (mappings still held by slices live on).
  ~ShmRegistry() = default;
  ShmRegistry(const ShmRegistry&) = delete;
  ShmRegistry& operator=(const ShmRegistry&) = delete;

  // Maps [offset, offset + byte_size) of the POSIX shared memory object `key`
  // as region `name`. Errors, each naming the region:
  //   kInvalidArgument  `name` empty; `key` not "/" followed by a name
  //                     without '/'; byte_size 0; `name` already registered
  //                     ("shared memory region 'r' already in manager", as
  //                     Triton); the range past the object's end (saying
  //                     both sizes).
  //   kInternal         the object cannot be opened read-write (the
  //                     reason from errno, e.g. no such object), or
  //                     fstat/mmap fail.
  Status register_region(const std::string& name, const std::string& key, std::uint64_t offset,
                         std::uint64_t byte_size);

  // Forgets `name`; nothing when it is not registered (Triton: a no-op).
  void unregister(const std::string& name);
  // Forgets every region.
  void unregister_all();

  // Every region, by name.
  std::vector<ShmRegionStatus> status() const;
  // One region; kNotFound "Unable to find system shared memory region: 'r'".
  Result<ShmRegionStatus> status(const std::string& name) const;

  // [offset, offset + byte_size) of region `name`, owning its mapping.
  // kNotFound "Unable to find shared memory region: 'r'" (Triton's words);
  // kInvalidArgument naming the region, the range and the region's size
  // when the range does not lie within it. byte_size may be 0.
  Result<ShmSlice> slice(const std::string& name, std::uint64_t offset,
                         std::uint64_t byte_size) const;

  // Regions registered now.
  std::size_t size() const;

 private:
  struct Region;  // a mapping and what it was registered as

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Region>> regions_;  // GUARDED_BY(mu_)
};

}  // namespace modelpool::server
