// Speech as tensors: how a transcription (Capability::kTranscribe) and a
// synthesis (Capability::kSpeak) travel through Model::infer.
//
// A speech model is an ordinary kInfer model whose instances read and write
// the tensors below, so everything that runs kInfer runs speech unchanged: a
// Pool of instances, a worker process (isolation = "process"), KServe v2
// infer with JSON, binary or shared-memory tensors. The OpenAI audio routes
// build these requests and read these outputs; a backend reads the requests
// with read_transcription() / read_speech() and answers with
// transcript_outputs() / speech_outputs(), so the two sides cannot drift.
//
// Transcription
//   input  "audio"  BYTES [1]: a whole audio file (WAV, FLAC, OGG/Vorbis,
//                   OGG/Opus, MP3), its format recognised from its bytes;
//          or INT16 / FP32 [n] (or [1, n]): mono samples, with the
//                   parameter "sample_rate" (FP32 in [-1, 1]).
//   parameters (all optional)
//          "language"          string: ISO-639-1 code the caller expects
//          "prompt"            string: text that came before, as a hint
//          "temperature"       number in [0, 1]
//          "word_timestamps"   bool: also return words with times
//          "sample_rate"       integer: only with a sample tensor
//   outputs "text"           BYTES [1]
//           "language"       BYTES [1]: the language transcribed
//           "duration"       FP32 [1]: seconds of audio
//           "segment_text"   BYTES [n], "segment_times" FP32 [n, 2]
//                            (start, end in seconds)
//           "word_text"      BYTES [m], "word_times" FP32 [m, 2] (only when
//                            word_timestamps was asked and the engine can)
//
// Speech
//   input  "text"   BYTES [1]: what to say
//   parameters (all optional)
//          "voice"             string: one of the model's voices
//          "speed"             number in [0.25, 4.0] (1: the voice's pace)
//          "response_format"   string: one of speech_formats() (default wav)
//   outputs "audio"        BYTES [1]: the encoded audio, whole
//           "sample_rate"  INT32 [1]
//
// Every reader refuses what it does not know (an unknown parameter, a
// missing input, a value out of range) with kInvalidArgument naming it: a
// backend that cannot honour a field says so instead of ignoring it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "modelpool/backend.h"
#include "modelpool/buffer.h"
#include "modelpool/status.h"

namespace modelpool::speech {

// ---- Transcription ---------------------------------------------------------

struct TranscribeOptions {
  std::string language;  // empty: the model's
  std::string prompt;
  double temperature = 0;
  bool word_timestamps = false;
};

// What a transcription request carries: a file, or samples.
struct AudioInput {
  // A whole file in a container: set when the input is BYTES.
  Buffer file;
  // Samples, when the input is INT16 or FP32: their datatype ("INT16",
  // "FP32"), bytes (little-endian, mono) and rate.
  std::string sample_type;
  Buffer samples;
  int sample_rate = 0;
  TranscribeOptions options;
};

// The request the OpenAI route (or any caller) sends: `file` as the BYTES
// input "audio", the options as parameters (defaults left out).
Request transcription_request(Buffer file, const TranscribeOptions& options);
// Reads a transcription request; kInvalidArgument naming what is wrong
// (no "audio" input, another input, a datatype, an unknown parameter, a
// sample_rate without samples or samples without one).
Result<AudioInput> read_transcription(const Request& request);

struct TimedText {
  double start = 0;  // seconds from the start of the audio
  double end = 0;
  std::string text;
};

struct Transcript {
  std::string text;
  std::string language;
  double duration = 0;  // seconds of audio
  std::vector<TimedText> segments;
  std::vector<TimedText> words;  // empty unless asked and available
};

std::vector<Tensor> transcript_outputs(const Transcript& transcript);
// kInternal naming the output when one is missing or malformed.
Result<Transcript> read_transcript(const std::vector<Tensor>& outputs);

// ---- Speech ----------------------------------------------------------------

struct SpeakOptions {
  std::string voice;      // empty: the model's default voice
  double speed = 1.0;
  std::string format = "wav";
};

struct SpeechInput {
  std::string text;
  SpeakOptions options;
};

// An output format: its name as response_format gives it, and the HTTP
// content type of its bytes.
struct SpeechFormat {
  std::string_view name;
  std::string_view content_type;
  std::string_view description;
};
// wav, pcm (16-bit little-endian mono at the output's sample_rate), mp3,
// opus (in Ogg), flac.
const std::vector<SpeechFormat>& speech_formats();
// The format named `name`; kInvalidArgument naming it and listing the
// supported ones otherwise.
Result<SpeechFormat> find_speech_format(std::string_view name);

Request speech_request(std::string_view text, const SpeakOptions& options);
// Reads a speech request: kInvalidArgument naming what is wrong (no "text",
// empty text, an unknown parameter or format, speed out of range).
Result<SpeechInput> read_speech(const Request& request);

struct Speech {
  std::string audio;  // encoded in the requested format
  int sample_rate = 0;
};
std::vector<Tensor> speech_outputs(Speech speech);
// kInternal naming the output when one is missing or malformed.
Result<Speech> read_speech_outputs(const std::vector<Tensor>& outputs);

}  // namespace modelpool::speech
