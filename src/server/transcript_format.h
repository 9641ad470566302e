// A transcript (speech.h) in the response_format of OpenAI's
// POST /v1/audio/transcriptions:
//
//   json          {"text": "..."}                              application/json
//   text          the text and a newline                       text/plain; charset=utf-8
//   srt           SubRip cues, one per segment:                text/plain; charset=utf-8
//                   1\n00:00:00,000 --> 00:00:01,500\nHello.\n\n
//   vtt           WebVTT: "WEBVTT\n\n", then cues as srt's but with
//                 a dot before the milliseconds and no numbers   text/vtt; charset=utf-8
//   verbose_json  {"task": "transcribe", "language", "duration", "text",
//                  "segments": [{"id", "start", "end", "text"}],
//                  "words": [{"word", "start", "end"}]}        application/json
//                 "words" only when word timestamps were asked for.
//
// Only what the model gave is written: OpenAI's segments also carry seek,
// tokens, temperature, avg_logprob, compression_ratio and no_speech_prob,
// which no engine here measures, so they are left out rather than invented.
// Times are seconds, rounded to the millisecond. A cue's text is the
// segment's, trimmed, with empty lines dropped (an empty line would end the
// cue) and "-->" written "->"; segments with no text get no cue. A
// transcript with text but no segments is one cue over the whole audio.
#pragma once

#include <string>
#include <string_view>

#include "modelpool/speech.h"
#include "modelpool/status.h"

namespace modelpool::server {

enum class TranscriptFormat { kJson, kText, kSrt, kVtt, kVerboseJson };

// "json, text, srt, verbose_json, vtt": the names, for messages.
std::string_view transcript_format_names();

// The format named `name`; kInvalidArgument naming it and the supported ones.
Result<TranscriptFormat> find_transcript_format(std::string_view name);

struct RenderedTranscript {
  std::string body;
  std::string_view content_type;
};

// `transcript` in `format`; `words`: the caller asked for word timestamps
// (verbose_json then has "words").
RenderedTranscript render_transcript(const speech::Transcript& transcript, TranscriptFormat format,
                                     bool words);

}  // namespace modelpool::server
