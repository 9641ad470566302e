// libsndfile's virtual I/O over memory: decoding reads a request's bytes
// where they are, encoding writes into a string that becomes the response.
#pragma once

#include <sndfile.h>

#include <string>
#include <string_view>

namespace modelpool::audio {

// A read-only file over `data` (which must outlive it), or a growing file
// written into `out`. Not copyable: libsndfile holds a pointer to it.
class MemoryFile {
 public:
  explicit MemoryFile(std::string_view data) : in_(data) {}
  explicit MemoryFile(std::string* out) : out_(out) {}
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  // Opens it with libsndfile in `mode` (SFM_READ or SFM_WRITE); null on
  // failure, with sf_strerror(nullptr) saying why.
  SNDFILE* open(int mode, SF_INFO* info) { return sf_open_virtual(&io_, mode, info, this); }

 private:
  std::string_view view() const { return out_ != nullptr ? std::string_view(*out_) : in_; }

  static sf_count_t length(void* self);
  static sf_count_t seek(sf_count_t offset, int whence, void* self);
  static sf_count_t read(void* ptr, sf_count_t count, void* self);
  static sf_count_t write(const void* ptr, sf_count_t count, void* self);
  static sf_count_t tell(void* self);

  std::string_view in_;
  std::string* out_ = nullptr;
  sf_count_t pos_ = 0;
  SF_VIRTUAL_IO io_{&MemoryFile::length, &MemoryFile::seek, &MemoryFile::read, &MemoryFile::write,
                    &MemoryFile::tell};
};

}  // namespace modelpool::audio
