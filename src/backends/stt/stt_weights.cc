#include "backends/stt/stt_weights.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace modelpool::stt {

Result<std::unique_ptr<MappedFile>> MappedFile::map(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return invalid_argument_error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size == 0) {
    close(fd);
    return invalid_argument_error("cannot map '" + path + "': empty or unreadable");
  }
  const auto bytes = static_cast<std::size_t>(st.st_size);
  void* data = mmap(nullptr, bytes, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  const int err = errno;
  close(fd);
  if (data == MAP_FAILED) return invalid_argument_error("cannot map '" + path + "': " + std::strerror(err));
  return std::unique_ptr<MappedFile>(new MappedFile(data, bytes));
}

MappedFile::~MappedFile() { munmap(data_, bytes_); }

SttWeights::SttWeights(std::string model_name, SttConfig config, std::vector<std::unique_ptr<MappedFile>> shared,
                       std::size_t probe_decoder_bytes)
    : model_name(std::move(model_name)),
      config(std::move(config)),
      probe_decoder_bytes(probe_decoder_bytes),
      shared_(std::move(shared)) {}

std::size_t SttWeights::bytes() const {
  std::size_t total = 0;
  for (const auto& file : shared_) total += file->bytes();
  return total;
}

}  // namespace modelpool::stt
