// Checks made on a file's bytes before libsndfile reads them, for hostile
// input that libsndfile 1.2.0 (Debian 12) mishandles (found by fuzzing:
// fuzz/crashes/audio/, src/audio/decode_fuzz.cc):
//
//   - OGG Vorbis whose three headers do not read. libsndfile sets up
//     libvorbis's header state (vorbis_info_init: about 6 KiB, more with
//     comments) and returns its error without clearing it: its codec close
//     is installed only once the headers are read (ogg_vorbis_open). Every
//     such upload would cost the process that decodes it that much memory,
//     for good. The headers are read here first with libogg and libvorbis,
//     as libsndfile reads them.
//   - WAV and AIFF metadata. libsndfile walks a LIST chunk's sub-chunks by
//     their declared sizes, past the end of the file and past the LIST
//     itself: a 127-byte WAV claiming a 4 GiB LIST, or a LIST holding a
//     sub-chunk of 4 GiB, kept a decoder busy for minutes (longer than any
//     deadline; a stop token is not looked at inside sf_open). Speech models
//     use none of a file's metadata, so libsndfile gets only the chunks that
//     carry audio: WAV's "fmt ", "fact", "ds64" and "data", AIFF's "FVER",
//     "COMM" and "SSND" (a copy of the file without the others, when it has
//     others). A chunk that runs past the end of the file ends it. Nothing
//     is refused here: libsndfile judges what is left ("unreadable WAV").
#pragma once

#include <string>
#include <string_view>

#include "modelpool/status.h"

namespace modelpool::audio {

// What decode() hands libsndfile for `bytes`, recognised as `container`
// (sniff_container's name): `bytes` itself, or for a WAV or AIFF file with
// chunks other than its audio ones a copy without them, kept in *storage
// (which the result then views). kInvalidArgument for OGG Vorbis headers
// that do not read ("corrupt OGG Vorbis header: ...").
Result<std::string_view> prepare_for_libsndfile(std::string_view bytes, std::string_view container,
                                                std::string* storage);

// For OGG bytes whose first logical stream is Vorbis: kInvalidArgument
// ("corrupt OGG Vorbis header: ...") unless its identification, comment and
// setup headers are all there and read. OK for any other bytes (another
// codec, no OGG page at all: libsndfile's to refuse).
Status check_vorbis_headers(std::string_view bytes);

}  // namespace modelpool::audio
