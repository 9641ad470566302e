// What one stt model shares between its decoders (stt_backend.h): its
// checked configuration and, with `mmap`, the acoustic model's read-only
// tables (mdef, sendump) mapped once and pre-faulted. Every decoder maps the
// same files, so those pages exist once per machine however many decoders
// (and worker processes) read them. Everything else a decoder builds for
// itself (decoder.h says why), and SttInstance::bytes() reports it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "backends/stt/stt_config.h"
#include "modelpool/backend.h"

namespace modelpool::stt {

// A file mapped read-only and shared (MAP_SHARED), its pages faulted in.
class MappedFile {
 public:
  // kInvalidArgument naming the path when it cannot be opened or mapped.
  static Result<std::unique_ptr<MappedFile>> map(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::size_t bytes() const { return bytes_; }

 private:
  MappedFile(void* data, std::size_t bytes) : data_(data), bytes_(bytes) {}
  void* data_;
  std::size_t bytes_;
};

class SttWeights final : public Weights {
 public:
  SttWeights(std::string model_name, SttConfig config, std::vector<std::unique_ptr<MappedFile>> shared,
             std::size_t probe_decoder_bytes);
  // The mapped tables (0 without mmap: then nothing is shared).
  std::size_t bytes() const override;

  const std::string model_name;
  const SttConfig config;
  // Heap bytes of the decoder load() built to check the configuration:
  // what each instance will cost.
  const std::size_t probe_decoder_bytes;

 private:
  const std::vector<std::unique_ptr<MappedFile>> shared_;
};

}  // namespace modelpool::stt
