#include "backends/stt/decoder.h"

#include <malloc.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace modelpool::stt {
namespace {

// Serializes decoder creation (see decoder.h).
std::mutex& create_mutex() {
  static std::mutex mu;
  return mu;
}

// pocketsphinx's error messages on this thread go here while it is set.
thread_local std::string* captured_errors = nullptr;

// sphinxbase's log callback: drops everything but the errors of a decoder
// being created on this thread.
void engine_log(void*, err_lvl_t level, const char* format, ...) {
  if (captured_errors == nullptr || level < ERR_ERROR) return;
  char line[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty()) return;
  if (!captured_errors->empty()) *captured_errors += "; ";
  *captured_errors += text;
}

void silence_engine_log() {
  static std::once_flag once;
  std::call_once(once, [] { err_set_callback(engine_log, nullptr); });
}

std::size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

}  // namespace

Result<std::unique_ptr<Decoder>> Decoder::create(const SttConfig& config) {
  silence_engine_log();
  std::vector<std::string> args = config.decoder_args();
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());

  std::lock_guard lock(create_mutex());
  std::string errors;
  captured_errors = &errors;
  const std::size_t before = heap_in_use();
  cmd_ln_t* cmd = cmd_ln_parse_r(nullptr, ps_args(), static_cast<int32>(argv.size()), argv.data(), FALSE);
  ps_decoder_t* ps = cmd != nullptr ? ps_init(cmd) : nullptr;
  if (cmd != nullptr) cmd_ln_free_r(cmd);  // the decoder keeps its own reference
  const std::size_t after = heap_in_use();
  captured_errors = nullptr;
  if (ps == nullptr) {
    return invalid_argument_error("pocketsphinx refused the model (" + std::string(config.search_option()) + " '" +
                                  config.search_file + "'): " + (errors.empty() ? "no reason given" : errors));
  }
  return std::unique_ptr<Decoder>(new Decoder(ps, after > before ? after - before : 0));
}

Decoder::~Decoder() { ps_free(ps_); }

Result<Hypothesis> Decoder::decode(std::span<const std::int16_t> samples, std::stop_token stop) {
  Hypothesis hyp;
  hyp.frame_rate = static_cast<int>(cmd_ln_int32_r(ps_get_config(ps_), "-frate"));
  if (samples.empty()) return hyp;
  if (ps_start_utt(ps_) < 0) return internal_error("pocketsphinx: starting an utterance failed");
  const std::size_t chunk = static_cast<std::size_t>(cmd_ln_float32_r(ps_get_config(ps_), "-samprate")) / 10;
  for (std::size_t at = 0; at < samples.size(); at += chunk) {
    if (stop.stop_requested()) {
      ps_end_utt(ps_);
      return cancelled_error("transcription stopped");
    }
    const std::size_t n = std::min(chunk, samples.size() - at);
    if (ps_process_raw(ps_, samples.data() + at, n, FALSE, FALSE) < 0) {
      ps_end_utt(ps_);
      return internal_error("pocketsphinx: processing audio failed");
    }
  }
  if (ps_end_utt(ps_) < 0) return internal_error("pocketsphinx: ending an utterance failed");
  if (const char* text = ps_get_hyp(ps_, nullptr); text != nullptr) hyp.text = text;
  for (ps_seg_t* seg = ps_seg_iter(ps_); seg != nullptr; seg = ps_seg_next(seg)) {
    EngineWord w;
    w.word = ps_seg_word(seg);
    ps_seg_frames(seg, &w.start_frame, &w.end_frame);
    hyp.words.push_back(std::move(w));
  }
  return hyp;
}

}  // namespace modelpool::stt
