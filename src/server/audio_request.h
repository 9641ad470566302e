// OpenAI's audio requests, checked field by field against what this server
// implements; a field it does not implement is refused with kInvalidArgument
// naming it, never silently ignored.
//
// POST /v1/audio/transcriptions, multipart/form-data (multipart.h), one part
// per field:
//   file                     required, not empty: the audio file, whole. Its
//                            format is the model's to recognise from its
//                            bytes; the part's filename and Content-Type are
//                            not looked at.
//   model                    required
//   language                 ISO-639-1 code of the speech (a hint)
//   prompt                   text that came before (a hint)
//   response_format          json (default), text, srt, verbose_json, vtt
//                            (transcript_format.h)
//   temperature              a number in [0, 1]
//   timestamp_granularities[]  segment or word, one part each; word asks the
//                            model for word timestamps. Only with
//                            response_format verbose_json, as OpenAI's API.
//   stream                   false only
// Every field but timestamp_granularities[] at most once.
//
// POST /v1/audio/speech, a JSON object:
//   model                    required
//   input                    required: 1 to 4096 characters, not only spaces
//   voice                    one of the model's voices (absent: its default)
//   response_format          wav, pcm, mp3 (default, as OpenAI's), opus,
//                            flac (speech.h's speech_formats(); no aac)
//   speed                    a number in [0.25, 4] (default 1)
// A field whose value is null counts as absent.
//
// Tested through the routes, over HTTP: audio_api_test.cc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "modelpool/buffer.h"
#include "modelpool/speech.h"
#include "modelpool/status.h"
#include "server/transcript_format.h"

namespace modelpool::server {

// Characters (Unicode code points) a speech input may hold, as OpenAI's API.
inline constexpr std::size_t kMaxSpeechInputCharacters = 4096;

struct TranscriptionAsk {
  std::string model;
  Buffer file;  // a slice of the request body
  speech::TranscribeOptions options;
  TranscriptFormat format = TranscriptFormat::kJson;
};

// `content_type` is the request's Content-Type header; `body` its body.
// kInvalidArgument naming what is wrong: a body that is not
// multipart/form-data ("... takes multipart/form-data ..."), a malformed one
// (multipart.h's refusals), a part missing ("multipart body has no 'file'
// part"), repeated or not implemented, a value out of range.
Result<TranscriptionAsk> parse_transcription_ask(std::string_view content_type, const Buffer& body);

struct SpeechAsk {
  std::string model;
  std::string input;
  speech::SpeakOptions options;   // options.format: the response_format
  std::string_view content_type;  // of that format's bytes
};

// kInvalidArgument naming the first field that is wrong or not supported.
Result<SpeechAsk> parse_speech_ask(std::string_view body);

}  // namespace modelpool::server
