// ClientShm: what a Triton client does before it registers a region: a
// POSIX shared memory object of its own (shm_open(O_CREAT | O_EXCL) +
// ftruncate), mapped on the client's side, unlinked when the test ends.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <string>

namespace modelpool::test_support {

class ClientShm {
 public:
  // A new object of `size` bytes (zeros) with a name no other test uses.
  explicit ClientShm(std::size_t size) : size_(size) {
    static std::atomic<int> next{0};
    key_ = "/modelpool_test_" + std::to_string(getpid()) + "_" + std::to_string(next++);
    const int fd = shm_open(key_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    EXPECT_GE(fd, 0) << key_;
    if (fd < 0) return;
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    EXPECT_NE(p, MAP_FAILED);
    if (p != MAP_FAILED) data_ = static_cast<char*>(p);
  }
  ~ClientShm() {
    if (data_ != nullptr) munmap(data_, size_);
    shm_unlink(key_.c_str());
  }
  ClientShm(const ClientShm&) = delete;
  ClientShm& operator=(const ClientShm&) = delete;

  // The key a client registers: "/name" (the object is /dev/shm/name).
  const std::string& key() const { return key_; }
  // The client's own mapping of the whole object.
  char* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  std::string key_;
  std::size_t size_;
  char* data_ = nullptr;
};

}  // namespace modelpool::test_support
