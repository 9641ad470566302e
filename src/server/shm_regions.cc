#include "server/shm_regions.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace modelpool::server {

// A mapped range of a client's object. Unmapped when the last owner goes:
// the registry's entry, a slice, or a Buffer made from one.
struct ShmRegistry::Region {
  ShmRegionStatus status;
  void* base = nullptr;        // what mmap returned (page-aligned)
  std::size_t map_length = 0;  // what was mapped from base
  char* data = nullptr;        // the registered range: base + offset % page

  Region() = default;
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  ~Region() {
    if (base != nullptr) munmap(base, map_length);
  }
};

void ShmSlice::write(std::string_view bytes) const {
  if (!bytes.empty()) std::memmove(data_, bytes.data(), bytes.size());
}

namespace {

std::string errno_text(int e) {
  return std::strerror(e);
}

// Closes a descriptor when it goes out of scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

Status ShmRegistry::register_region(const std::string& name, const std::string& key,
                                    std::uint64_t offset, std::uint64_t byte_size) {
  const std::string region = "shared memory region '" + name + "'";
  if (name.empty()) return invalid_argument_error("shared memory region name: required");
  if (key.size() < 2 || key[0] != '/' || key.find('/', 1) != std::string::npos) {
    return invalid_argument_error(region + ": key '" + key +
                                  "' is not a POSIX shared memory name: '/' followed by a name "
                                  "without '/' (an object in /dev/shm)");
  }
  if (byte_size == 0)
    return invalid_argument_error(region + ": byte_size: expected an integer >= 1");
  {
    std::lock_guard lock(mu_);
    if (regions_.contains(name)) return invalid_argument_error(region + " already in manager");
  }

  // The slow part, outside the lock.
  Fd fd{shm_open(key.c_str(), O_RDWR, 0)};
  if (fd.fd < 0) {
    return internal_error("Unable to open shared memory region: '" + key +
                          "': " + errno_text(errno));
  }
  struct stat st {};
  if (fstat(fd.fd, &st) != 0 || st.st_size < 0) {
    return internal_error("Invalid shared memory region: '" + key + "': " + errno_text(errno));
  }
  const auto object_size = static_cast<std::uint64_t>(st.st_size);
  if (offset > object_size || byte_size > object_size - offset) {
    return invalid_argument_error("failed to register " + region + ": offset " +
                                  std::to_string(offset) + " + byte_size " +
                                  std::to_string(byte_size) + " is past the end of '" + key +
                                  "' (" + std::to_string(object_size) + " bytes)");
  }
  const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  const std::uint64_t map_offset = offset - offset % page;
  const std::uint64_t lead = offset - map_offset;
  auto mapped = std::make_shared<Region>();
  mapped->status = {name, key, offset, byte_size};
  mapped->map_length = static_cast<std::size_t>(lead + byte_size);
  void* base = mmap(nullptr, mapped->map_length, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd,
                    static_cast<off_t>(map_offset));
  if (base == MAP_FAILED) {
    return internal_error("failed to register " + region + ": mmap of '" + key +
                          "': " + errno_text(errno));
  }
  mapped->base = base;
  mapped->data = static_cast<char*>(base) + lead;

  std::lock_guard lock(mu_);
  // Registered meanwhile by another request: try_emplace leaves `mapped`
  // alone, and it is unmapped as it goes, after the lock is released (it is
  // declared before the guard).
  if (!regions_.try_emplace(name, mapped).second) {
    return invalid_argument_error(region + " already in manager");
  }
  return {};
}

void ShmRegistry::unregister(const std::string& name) {
  std::shared_ptr<const Region> gone;  // unmapped (if last) after the lock is released
  std::lock_guard lock(mu_);
  auto it = regions_.find(name);
  if (it == regions_.end()) return;
  gone = std::move(it->second);
  regions_.erase(it);
}

void ShmRegistry::unregister_all() {
  std::map<std::string, std::shared_ptr<const Region>>
      gone;  // destroyed after the lock is released
  std::lock_guard lock(mu_);
  gone.swap(regions_);
}

std::vector<ShmRegionStatus> ShmRegistry::status() const {
  std::lock_guard lock(mu_);
  std::vector<ShmRegionStatus> out;
  out.reserve(regions_.size());
  for (const auto& [name, region] : regions_) out.push_back(region->status);
  return out;
}

Result<ShmRegionStatus> ShmRegistry::status(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = regions_.find(name);
  if (it == regions_.end())
    return not_found_error("Unable to find system shared memory region: '" + name + "'");
  return it->second->status;
}

Result<ShmSlice> ShmRegistry::slice(const std::string& name, std::uint64_t offset,
                                    std::uint64_t byte_size) const {
  std::shared_ptr<const Region> region;
  {
    std::lock_guard lock(mu_);
    auto it = regions_.find(name);
    if (it == regions_.end())
      return not_found_error("Unable to find shared memory region: '" + name + "'");
    region = it->second;
  }
  const std::uint64_t size = region->status.byte_size;
  if (offset > size || byte_size > size - offset) {
    return invalid_argument_error(
        "shared memory region '" + name + "': offset " + std::to_string(offset) + " + byte_size " +
        std::to_string(byte_size) + " is past its end (" + std::to_string(size) + " bytes)");
  }
  ShmSlice s;
  s.data_ = region->data + offset;
  s.size_ = static_cast<std::size_t>(byte_size);
  s.region_ = name;
  s.offset_ = offset;
  s.mapping_ = std::move(region);
  return s;
}

std::size_t ShmRegistry::size() const {
  std::lock_guard lock(mu_);
  return regions_.size();
}

}  // namespace modelpool::server
