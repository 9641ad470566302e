#include "audio/precheck.h"

#include <ogg/ogg.h>
#include <vorbis/codec.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace modelpool::audio {

Status check_vorbis_headers(std::string_view bytes) {
  ogg_sync_state sync;
  ogg_sync_init(&sync);
  ogg_stream_state stream;
  bool stream_open = false;
  vorbis_info info;
  vorbis_comment comment;
  bool vorbis_open = false;
  auto done = [&](Status s) {
    if (vorbis_open) {
      vorbis_comment_clear(&comment);
      vorbis_info_clear(&info);
    }
    if (stream_open) ogg_stream_clear(&stream);
    ogg_sync_clear(&sync);
    return s;
  };
  auto corrupt = [&](const std::string& why) {
    return done(invalid_argument_error("corrupt OGG Vorbis header: " + why));
  };

  char* buffer = ogg_sync_buffer(&sync, static_cast<long>(bytes.size()));
  if (buffer == nullptr) return done(internal_error("ogg_sync_buffer failed"));
  std::memcpy(buffer, bytes.data(), bytes.size());
  ogg_sync_wrote(&sync, static_cast<long>(bytes.size()));

  // The first page (past any bytes before it, as libogg skips them), and
  // its first packet: the stream's codec.
  ogg_page page;
  int got;
  while ((got = ogg_sync_pageout(&sync, &page)) < 0) {
  }
  if (got == 0) return done({});  // no page: libsndfile refuses it on its own
  ogg_stream_init(&stream, ogg_page_serialno(&page));
  stream_open = true;
  ogg_stream_pagein(&stream, &page);
  ogg_packet packet;
  if (ogg_stream_packetout(&stream, &packet) != 1) return done({});
  if (packet.bytes < 7 || std::memcmp(packet.packet, "\x01vorbis", 7) != 0) return done({});

  vorbis_info_init(&info);
  vorbis_comment_init(&comment);
  vorbis_open = true;
  if (vorbis_synthesis_headerin(&info, &comment, &packet) < 0)
    return corrupt("the identification header does not read");
  // The comment and setup headers: the next two packets, over as many
  // pages as they take.
  for (int headers = 1; headers < 3;) {
    const int out = ogg_stream_packetout(&stream, &packet);
    if (out < 0) return corrupt("a header packet is missing or damaged");
    if (out == 1) {
      if (vorbis_synthesis_headerin(&info, &comment, &packet) < 0) {
        return corrupt(headers == 1 ? "the comment header does not read"
                                    : "the setup header does not read");
      }
      ++headers;
      continue;
    }
    while ((got = ogg_sync_pageout(&sync, &page)) < 0) {
    }
    if (got == 0) return corrupt("the file ends before its three headers");
    ogg_stream_pagein(&stream, &page);  // a page of another stream is ignored
  }
  return done({});
}

namespace {

// An IFF-style file: a 12-byte header (a tag, a size, a form type), then
// chunks, each an id, a size (little-endian in RIFF, big-endian in AIFF),
// the bytes and a pad byte when the size is odd.
struct Iff {
  bool little_endian;
  std::vector<std::string_view> audio;  // the chunks that carry audio
};

std::uint32_t read_u32(std::string_view bytes, std::size_t at, bool little_endian) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    const auto b =
        static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(little_endian ? 3 - i : i)]);
    v = (v << 8) | b;
  }
  return v;
}

void write_u32(std::string& out, std::size_t at, std::uint32_t v, bool little_endian) {
  for (int i = 0; i < 4; ++i) {
    const int shift = 8 * (little_endian ? i : 3 - i);
    out[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> shift) & 0xFF);
  }
}

// `bytes` with only `form`'s audio chunks, into *storage; `bytes` itself
// when it has no other chunk. A chunk that runs past the end of the file
// ends it (kept as far as it goes when it carries audio: libsndfile judges
// it).
std::string_view audio_chunks(std::string_view bytes, const Iff& form, std::string* storage) {
  struct Span {
    std::size_t at, size;  // a whole chunk: header, bytes, pad
  };
  std::vector<Span> kept;
  bool dropped = false;
  std::size_t at = 12;
  while (bytes.size() - at >= 8) {
    const std::string_view id = bytes.substr(at, 4);
    const std::uint64_t size = read_u32(bytes, at + 4, form.little_endian);
    const std::uint64_t left = bytes.size() - at - 8;
    const bool audio = std::find(form.audio.begin(), form.audio.end(), id) != form.audio.end();
    const auto whole =
        static_cast<std::size_t>(std::min<std::uint64_t>(8 + size + (size & 1), left + 8));
    if (audio) {
      kept.push_back({at, whole});
    } else {
      dropped = true;
    }
    if (size > left) break;
    at += whole;
  }
  if (!dropped) return bytes;
  storage->assign(bytes.substr(0, 12));
  for (const Span& s : kept) storage->append(bytes.substr(s.at, s.size));
  // The form's size, unless RF64's placeholder (its real sizes are in ds64).
  if (read_u32(bytes, 4, form.little_endian) != 0xFFFFFFFF) {
    write_u32(*storage, 4, static_cast<std::uint32_t>(storage->size() - 8), form.little_endian);
  }
  return *storage;
}

}  // namespace

Result<std::string_view> prepare_for_libsndfile(std::string_view bytes, std::string_view container,
                                                std::string* storage) {
  static const Iff kWav{true, {"fmt ", "fact", "ds64", "data"}};
  static const Iff kAiff{false, {"FVER", "COMM", "SSND"}};
  if (container == "ogg") {
    if (Status s = check_vorbis_headers(bytes); !s.ok()) return s;
  }
  if (container == "wav" && bytes.size() >= 12) return audio_chunks(bytes, kWav, storage);
  if (container == "aiff" && bytes.size() >= 12) return audio_chunks(bytes, kAiff, storage);
  return bytes;
}

}  // namespace modelpool::audio
