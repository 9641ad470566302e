#include "backends/stt/decoder.h"

#include <malloc.h>
#include <unistd.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>

#include <algorithm>
#include <cstdint>
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
  std::call_once(once, [] {
    // No log file (cmd_ln prints the configuration to it directly), and
    // every message through engine_log.
    err_set_logfp(nullptr);
    err_set_callback(engine_log, nullptr);
  });
}

std::size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// Resident bytes of this process, from /proc/self/statm (0 if unreadable).
std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int read = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return read == 2 ? resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// The mean cepstrum of `samples` as `fe` computes it, or empty when they
// make no frame (or `stop` is requested).
std::vector<mfcc_t> mean_cepstrum(fe_t* fe, std::span<const std::int16_t> samples, std::stop_token stop) {
  const auto width = static_cast<std::size_t>(fe_get_output_size(fe));
  constexpr int kFrames = 256;
  std::vector<mfcc_t> block(width * kFrames);
  std::vector<mfcc_t*> rows(kFrames);
  for (int i = 0; i < kFrames; ++i) rows[i] = block.data() + i * width;
  std::vector<double> sum(width, 0.0);
  std::size_t frames = 0;
  auto add = [&](int32 n) {
    for (int32 f = 0; f < n; ++f) {
      for (std::size_t k = 0; k < width; ++k) sum[k] += rows[f][k];
    }
    frames += static_cast<std::size_t>(n);
  };
  fe_start_stream(fe);
  fe_start_utt(fe);
  const int16* at = samples.data();
  std::size_t left = samples.size();
  while (left > 0 && !stop.stop_requested()) {
    int32 n = kFrames;
    if (fe_process_frames(fe, &at, &left, rows.data(), &n, nullptr) < 0) break;
    if (n == 0) break;
    add(n);
  }
  int32 n = 0;
  fe_end_utt(fe, rows[0], &n);
  add(n);
  if (frames == 0 || stop.stop_requested()) return {};
  std::vector<mfcc_t> mean(width);
  for (std::size_t k = 0; k < width; ++k) mean[k] = static_cast<mfcc_t>(sum[k] / static_cast<double>(frames));
  return mean;
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
  const std::size_t resident_before = resident_bytes();
  cmd_ln_t* cmd = cmd_ln_parse_r(nullptr, ps_args(), static_cast<int32>(argv.size()), argv.data(), FALSE);
  ps_decoder_t* ps = cmd != nullptr ? ps_init(cmd) : nullptr;
  if (cmd != nullptr) cmd_ln_free_r(cmd);  // the decoder keeps its own reference
  const std::size_t after = heap_in_use();
  const std::size_t resident_after = resident_bytes();
  captured_errors = nullptr;
  if (ps == nullptr) {
    return invalid_argument_error("pocketsphinx refused the model (" + std::string(config.search_option()) + " '" +
                                  config.search_file + "'): " + (errors.empty() ? "no reason given" : errors));
  }
  // glibc's count; an allocator that replaces glibc's (a sanitizer's)
  // reports none, and then the growth of the resident set stands in.
  std::size_t bytes = after > before ? after - before : 0;
  if (bytes == 0 && resident_after > resident_before) bytes = resident_after - resident_before;
  auto decoder = std::unique_ptr<Decoder>(new Decoder(ps, bytes));
  cmn_t* cmn = ps_get_feat(ps)->cmn_struct;
  if (cmn != nullptr) {
    decoder->initial_cmn_.resize(static_cast<std::size_t>(cmn->veclen));
    cmn_live_get(cmn, decoder->initial_cmn_.data());
  }
  return decoder;
}

Decoder::~Decoder() { ps_free(ps_); }

std::vector<Piece> split_at_pauses(std::span<const std::int16_t> samples, int sample_rate, double min_seconds,
                                   double max_seconds) {
  std::vector<Piece> pieces;
  const std::size_t frame = static_cast<std::size_t>(std::max(1, sample_rate / 100));  // 10 ms
  const std::size_t min_len = static_cast<std::size_t>(min_seconds * sample_rate);
  const std::size_t max_len = static_cast<std::size_t>(max_seconds * sample_rate);
  constexpr std::size_t kWindowFrames = 20;  // the quietest 0.2 s
  std::size_t begin = 0;
  while (samples.size() - begin > max_len) {
    // Energy of each 10 ms frame in [begin + min_len, begin + max_len).
    const std::size_t first = begin + min_len;
    const std::size_t frames = (max_len - min_len) / frame;
    std::vector<double> energy(frames, 0.0);
    for (std::size_t f = 0; f < frames; ++f) {
      for (std::size_t i = 0; i < frame; ++i) {
        const double v = samples[first + f * frame + i];
        energy[f] += v * v;
      }
    }
    std::size_t best = 0;
    double best_sum = -1, sum = 0;
    for (std::size_t f = 0; f < frames; ++f) {
      sum += energy[f];
      if (f >= kWindowFrames) sum -= energy[f - kWindowFrames];
      if (f + 1 >= std::min(kWindowFrames, frames) && (best_sum < 0 || sum < best_sum)) {
        best_sum = sum;
        best = f + 1 - std::min(kWindowFrames, frames) / 2;  // the window's middle
      }
    }
    const std::size_t cut = first + best * frame;
    pieces.push_back({begin, cut});
    begin = cut;
  }
  pieces.push_back({begin, samples.size()});
  return pieces;
}

Result<Hypothesis> Decoder::decode(std::span<const std::int16_t> samples, std::stop_token stop) {
  Hypothesis hyp;
  hyp.frame_rate = static_cast<int>(cmd_ln_int32_r(ps_get_config(ps_), "-frate"));
  if (samples.empty()) return hyp;
  const int rate = static_cast<int>(cmd_ln_float32_r(ps_get_config(ps_), "-samprate"));
  // Dither, as pocketsphinx's -dither does it (+1 on a quarter of the
  // samples, chosen at random). Digital silence (exact zeros: TTS output,
  // decoded MP3) has no finite log energy; pocketsphinx's FAQ names it as a
  // cause of poor accuracy and dither as the remedy. Measured with
  // bench/speech-accuracy (flite slt, 50 sentences, 50 digit strings):
  // sentence WER 35.7% -> 35.0% at 16 kHz and 77.6% -> 77.4% at 8 kHz,
  // digit strings exactly right 92% -> 92% at 16 kHz and 36% -> 42% at
  // 8 kHz. Small: the gap to good accuracy is the acoustic model's.
  // pocketsphinx's own -dither draws from a process-global generator that
  // every decoder shares, so a request's text would depend on what other
  // requests did; here the generator starts from the same seed for every
  // request, so the text depends on the audio alone.
  std::vector<std::int16_t> dithered(samples.begin(), samples.end());
  std::uint32_t x = 0x9e3779b9u;
  for (std::int16_t& s : dithered) {
    x = x * 1664525u + 1013904223u;
    if ((x >> 30) == 0 && s < INT16_MAX) ++s;
  }
  samples = dithered;
  // The whole audio is at hand (this is not live audio): its own cepstral
  // mean normalises it from the first frame, where live normalisation would
  // start from the model's -cmninit (or from whatever the instance heard
  // last) and adapt over the first seconds, costing words (measured:
  // "jumped" for "jumps" on a 3 s sentence, and 92% word errors instead of
  // 30% on 8 kHz speech).
  std::vector<mfcc_t> mean = mean_cepstrum(ps_get_fe(ps_), samples, stop);
  if (stop.stop_requested()) return cancelled_error("transcription stopped");
  if (mean.empty()) mean = initial_cmn_;
  // Pieces of at most kMaxPieceSeconds, cut at pauses: ending an utterance
  // runs the second search pass over all of it, so a stop costs at most
  // that pass over one piece (measured: 0.5 s after 2 s of one long
  // utterance without pieces).
  for (const Piece& piece : split_at_pauses(samples, rate, kMinPieceSeconds, kMaxPieceSeconds)) {
    Result<Hypothesis> part = decode_piece(samples.subspan(piece.begin, piece.end - piece.begin), mean, stop);
    if (!part.ok()) return part.status();
    if (!part->text.empty()) hyp.text += (hyp.text.empty() ? "" : " ") + part->text;
    // Each piece is a new stream, its frames counted from 0.
    const int offset = static_cast<int>(static_cast<double>(piece.begin) * hyp.frame_rate / rate + 0.5);
    for (EngineWord& w : part->words) {
      w.start_frame += offset;
      w.end_frame += offset;
      hyp.words.push_back(std::move(w));
    }
  }
  return hyp;
}

Result<Hypothesis> Decoder::decode_piece(std::span<const std::int16_t> samples, const std::vector<float>& mean,
                                         std::stop_token stop) {
  // A new stream makes frames count from 0 and the front end forget the
  // last signal, and the mean is the audio's own, so a request's text does
  // not depend on what the instance heard before.
  if (ps_start_stream(ps_) < 0) return internal_error("pocketsphinx: starting a stream failed");
  cmn_t* cmn = ps_get_feat(ps_)->cmn_struct;
  if (cmn != nullptr && mean.size() == static_cast<std::size_t>(cmn->veclen)) cmn_live_set(cmn, mean.data());
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
  Hypothesis hyp;
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
