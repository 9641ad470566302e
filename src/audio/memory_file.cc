#include "audio/memory_file.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace modelpool::audio {

sf_count_t MemoryFile::length(void* self) {
  return static_cast<sf_count_t>(static_cast<MemoryFile*>(self)->view().size());
}

sf_count_t MemoryFile::seek(sf_count_t offset, int whence, void* self) {
  auto* f = static_cast<MemoryFile*>(self);
  const auto size = static_cast<sf_count_t>(f->view().size());
  sf_count_t to = offset;
  if (whence == SEEK_CUR) to = f->pos_ + offset;
  if (whence == SEEK_END) to = size + offset;
  // Reading may not seek past the end; writing may (the gap is zeros).
  if (to < 0 || (f->out_ == nullptr && to > size)) return -1;
  f->pos_ = to;
  return to;
}

sf_count_t MemoryFile::read(void* ptr, sf_count_t count, void* self) {
  auto* f = static_cast<MemoryFile*>(self);
  const std::string_view data = f->view();
  if (f->pos_ >= static_cast<sf_count_t>(data.size()) || count <= 0) return 0;
  const sf_count_t n = std::min<sf_count_t>(count, static_cast<sf_count_t>(data.size()) - f->pos_);
  std::memcpy(ptr, data.data() + f->pos_, static_cast<std::size_t>(n));
  f->pos_ += n;
  return n;
}

sf_count_t MemoryFile::write(const void* ptr, sf_count_t count, void* self) {
  auto* f = static_cast<MemoryFile*>(self);
  if (f->out_ == nullptr || count <= 0) return 0;
  const auto end = static_cast<std::size_t>(f->pos_ + count);
  if (f->out_->size() < end) f->out_->resize(end);
  std::memcpy(f->out_->data() + f->pos_, ptr, static_cast<std::size_t>(count));
  f->pos_ += count;
  return count;
}

sf_count_t MemoryFile::tell(void* self) { return static_cast<MemoryFile*>(self)->pos_; }

}  // namespace modelpool::audio
