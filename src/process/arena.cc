#include "process/arena.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <cstring>
#include <string>

namespace modelpool::process {
namespace {

constexpr std::uint64_t kAlign = 64;
constexpr unsigned kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

std::string errno_text() { return std::strerror(errno); }

}  // namespace

Result<std::shared_ptr<SharedArena>> SharedArena::map_arena(int fd, std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    const std::string e = errno_text();
    close(fd);
    return internal_error("mmap of the arena: " + e);
  }
  return std::shared_ptr<SharedArena>(new SharedArena(fd, static_cast<char*>(p), bytes));
}

Result<std::shared_ptr<SharedArena>> SharedArena::create(std::size_t bytes) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  bytes = (std::max<std::size_t>(bytes, 2 * page) + 2 * page - 1) / (2 * page) * (2 * page);
  const int fd = memfd_create("modelpool-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return internal_error("memfd_create: " + errno_text());
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0 || fcntl(fd, F_ADD_SEALS, kSeals) != 0) {
    const std::string e = errno_text();
    close(fd);
    return internal_error("arena of " + std::to_string(bytes) + " bytes: " + e);
  }
  return map_arena(fd, bytes);
}

Result<std::shared_ptr<SharedArena>> SharedArena::attach(int fd) {
  struct stat st {};
  const int seals = fcntl(fd, F_GET_SEALS);
  if (fstat(fd, &st) != 0 || seals < 0 || (static_cast<unsigned>(seals) & kSeals) != kSeals || st.st_size <= 0) {
    close(fd);
    return invalid_argument_error("the arena is not a sealed memfd");
  }
  const auto bytes = static_cast<std::size_t>(st.st_size);
  return map_arena(fd, bytes);
}

SharedArena::~SharedArena() {
  munmap(base_, size_);
  close(fd_);
}

std::optional<std::uint64_t> SharedArena::offset_of(const char* p, std::size_t n) const {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const auto b = reinterpret_cast<std::uintptr_t>(base_);
  if (p == nullptr || a < b || a - b > size_ || n > size_ - (a - b)) return std::nullopt;
  return a - b;
}

ArenaAllocator::ArenaAllocator(std::uint64_t begin, std::uint64_t size) : begin_(begin), size_(size) {
  free_.emplace(begin, size);
}

std::optional<std::uint64_t> ArenaAllocator::allocate(std::uint64_t bytes) {
  if (bytes > size_) return std::nullopt;
  const std::uint64_t need = std::max<std::uint64_t>((bytes + kAlign - 1) / kAlign * kAlign, kAlign);
  std::lock_guard lock(mu_);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < need) continue;
    const std::uint64_t at = it->first;
    const std::uint64_t rest = it->second - need;
    free_.erase(it);
    if (rest > 0) free_.emplace(at + need, rest);
    used_.emplace(at, need);
    used_bytes_ += need;
    return at;
  }
  return std::nullopt;
}

bool ArenaAllocator::free(std::uint64_t offset) {
  std::lock_guard lock(mu_);
  auto u = used_.find(offset);
  if (u == used_.end()) return false;
  std::uint64_t at = u->first, size = u->second;
  used_bytes_ -= size;
  used_.erase(u);
  auto next = free_.lower_bound(at);
  if (next != free_.end() && at + size == next->first) {
    size += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == at) {
      prev->second += size;
      return true;
    }
  }
  free_.emplace(at, size);
  return true;
}

std::uint64_t ArenaAllocator::used() const {
  std::lock_guard lock(mu_);
  return used_bytes_;
}

}  // namespace modelpool::process
