// stt_measure: the figures docs/benchmarks.md quotes for the stt backend.
//
//   build/bin/stt_measure memory [N...]   load time, decoder creation time
//                                         and bytes, process PSS with 1, 3, 8
//                                         decoders (or the counts given), with
//                                         and without the shared mapping, for
//                                         the language model and a grammar
//   build/bin/stt_measure accuracy        word error rate on flite sentences
//                                         (voices slt and kal, 16 and 8 kHz)
//                                         and exact digit strings with a JSGF
//                                         grammar
//   build/bin/stt_measure latency         first-request time with and without
//                                         warmup(); how long a stop takes
//
// Needs the flite command for audio. Prints; asserts nothing.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "audio/audio.h"
#include "backends/stt/stt_backend.h"
#include "modelpool/memory.h"
#include "modelpool/speech.h"

namespace fs = std::filesystem;
using namespace modelpool;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double pss_mib() {
  Result<std::size_t> pss = read_pss_bytes();
  return pss.ok() ? static_cast<double>(*pss) / kMiB : -1;
}

const fs::path& work_dir() {
  static const fs::path dir = [] {
    std::string pattern = (fs::temp_directory_path() / "stt_measure.XXXXXX").string();
    return fs::path(mkdtemp(pattern.data()));
  }();
  return dir;
}

std::string flite(const std::string& text, const std::string& voice) {
  static int n = 0;
  const fs::path path = work_dir() / ("s" + std::to_string(n++) + ".wav");
  const std::string command = "flite -voice " + voice + " -t '" + text + "' -o '" + path.string() + "'";
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "failed: %s\n", command.c_str());
    std::exit(1);
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

fs::path digits_grammar() {
  const fs::path path = work_dir() / "digits.gram";
  std::ofstream(path) << "#JSGF V1.0;\ngrammar digits;\npublic <digits> = <digit>+;\n"
                         "<digit> = zero | oh | one | two | three | four | five | six | seven | eight | nine;\n";
  return path;
}

ModelSpec spec(std::map<std::string, std::string> options) {
  ModelSpec s;
  s.name = "stt";
  s.backend = "stt";
  s.options = std::move(options);
  return s;
}

std::vector<std::string> words_of(const std::string& text);

// One row of the table, measured in this process (a fresh one: memory a
// process freed earlier would be reused and hide the growth).
int memory_row(const std::string& search, const std::string& mmap, std::vector<int> counts) {
  const int most = *std::max_element(counts.begin(), counts.end());
  const std::string grammar = digits_grammar().string();
  {
    {
      std::map<std::string, std::string> options = {{"mmap", mmap}};
      if (search == "jsgf") options["jsgf"] = grammar;
      stt::SttBackend backend;
      const double before = pss_mib();
      auto t0 = std::chrono::steady_clock::now();
      auto weights = backend.load(spec(options), nullptr);
      const double load_s = seconds_since(t0);
      if (!weights.ok()) {
        std::fprintf(stderr, "load: %s\n", weights.status().message().c_str());
        return 1;
      }
      const double base = pss_mib();
      std::vector<std::unique_ptr<Instance>> instances;
      std::vector<double> pss_at;
      double create_s = 0;
      for (int i = 1; i <= most; ++i) {
        t0 = std::chrono::steady_clock::now();
        auto inst = backend.instantiate(*weights, spec(options));
        create_s += seconds_since(t0);
        if (!inst.ok()) {
          std::fprintf(stderr, "instantiate: %s\n", inst.status().message().c_str());
          return 1;
        }
        instances.push_back(std::move(*inst));
        if (std::find(counts.begin(), counts.end(), i) != counts.end()) pss_at.push_back(pss_mib() - before);
      }
      std::printf("| %s | %s | %.2f | %.1f | %.2f | %.1f |", search.c_str(), mmap.c_str(), load_s,
                  static_cast<double>((*weights)->bytes()) / kMiB, create_s / most,
                  static_cast<double>(instances.front()->bytes()) / kMiB);
      for (double p : pss_at) std::printf(" %.1f |", p);
      std::printf(" %.1f |\n", (pss_mib() - base) / most);
      std::fflush(stdout);
    }
  }
  return 0;
}

// The table: each row from a fresh process (this program again).
int memory(const std::vector<int>& counts) {
  std::string count_args;
  for (int n : counts) count_args += " " + std::to_string(n);
  if (count_args.empty()) count_args = " 1 3 8";
  std::printf("| search | mmap | load s | Weights::bytes MiB | create s (mean) | Instance::bytes MiB |");
  for (const std::string& n : words_of(count_args)) std::printf(" PSS +%s MiB |", n.c_str());
  std::printf(" PSS/decoder MiB |\n");
  std::fflush(stdout);
  for (const char* search : {"lm", "jsgf"}) {
    for (const char* mmap : {"true", "false"}) {
      const std::string command = "/proc/" + std::to_string(getpid()) + "/exe memory-row " + search + " " + mmap + count_args;
      if (std::system(command.c_str()) != 0) return 1;
    }
  }
  return 0;
}

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// Word-level Levenshtein distance.
std::size_t edit_distance(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string transcribe(Instance& instance, const std::string& wav, int rate) {
  Request request;
  if (rate == 0) {
    request = speech::transcription_request(Buffer::copy(wav), {});
  } else {
    auto pcm = audio::decode(wav, {});
    auto at = audio::resample(*pcm, rate);
    const std::vector<std::int16_t> samples = audio::to_int16(*at);
    std::string bytes(samples.size() * 2, '\0');
    std::memcpy(bytes.data(), samples.data(), bytes.size());
    request.inputs.push_back({"audio", "INT16", {static_cast<std::int64_t>(samples.size())}, Buffer::adopt(std::move(bytes))});
    request.parameters.set("sample_rate", std::int64_t{rate});
  }
  CollectSink sink;
  if (Status s = instance.run(request, sink, {}); !s.ok()) return "<error: " + s.message() + ">";
  auto t = speech::read_transcript(sink.outputs);
  return t.ok() ? t->text : "<error>";
}

int accuracy(bool verbose) {
  const std::vector<std::string> sentences = {
      "the quick brown fox jumps over the lazy dog",
      "please call stella and ask her to bring these things with her from the store",
      "the weather today is sunny with a chance of rain in the evening",
      "i would like to book a table for two people at seven thirty",
      "the stock market fell sharply after the announcement",
      "she sells seashells by the seashore",
      "turn left at the next intersection and continue for two miles",
      "the meeting has been moved to thursday afternoon",
      "can you tell me how to get to the train station",
      "we need to buy milk eggs and bread before the store closes",
  };
  const std::vector<std::string> digits = {
      "one two three four",   "five six seven eight nine", "zero zero seven",     "four one five five five",
      "nine eight seven six", "two zero two four",         "three one four one five", "eight six seven five three oh nine",
      "one one two",          "six zero six",
  };
  stt::SttBackend backend;
  auto lm_weights = backend.load(spec({}), nullptr);
  auto lm = backend.instantiate(*lm_weights, spec({}));
  const std::map<std::string, std::string> g = {{"jsgf", digits_grammar().string()}};
  auto g_weights = backend.load(spec(g), nullptr);
  auto gi = backend.instantiate(*g_weights, spec(g));
  if (!lm.ok() || !gi.ok()) return 1;
  std::printf("| voice | rate | sentences: WER (errors/words) | exact | digits: exact strings |\n");
  for (const char* voice : {"slt", "kal"}) {
    std::vector<std::string> wavs, digit_wavs;
    for (const std::string& s : sentences) wavs.push_back(flite(s, voice));
    for (const std::string& d : digits) digit_wavs.push_back(flite(d, voice));
    for (int rate : {0, 16000, 8000}) {
      std::size_t errors = 0, words = 0, exact = 0, digits_exact = 0;
      for (std::size_t i = 0; i < sentences.size(); ++i) {
        const std::string got = transcribe(**lm, wavs[i], rate);
        const auto ref = words_of(sentences[i]);
        const std::size_t e = edit_distance(ref, words_of(got));
        errors += e;
        words += ref.size();
        exact += e == 0;
        if (verbose && e != 0) std::printf("  %s@%d: '%s' for '%s'\n", voice, rate, got.c_str(), sentences[i].c_str());
      }
      for (std::size_t i = 0; i < digits.size(); ++i) {
        const std::string got = transcribe(**gi, digit_wavs[i], rate);
        digits_exact += got == digits[i];
        if (verbose && got != digits[i]) std::printf("  %s@%d digits: '%s' for '%s'\n", voice, rate, got.c_str(), digits[i].c_str());
      }
      std::printf("| %s | %s | %.1f%% (%zu/%zu) | %zu/10 | %zu/10 |\n", voice,
                  rate == 0 ? "file (native)" : std::to_string(rate).c_str(), 100.0 * errors / words, errors, words,
                  exact, digits_exact);
    }
  }
  return 0;
}

// First-request cost with and without warmup(), and how long a stop takes
// to end a long transcription.
int latency() {
  stt::SttBackend backend;
  auto weights = backend.load(spec({}), nullptr);
  if (!weights.ok()) return 1;
  const std::string fox = flite("the quick brown fox jumps over the lazy dog", "slt");
  auto timed = [&](Instance& inst) {
    const auto t0 = std::chrono::steady_clock::now();
    transcribe(inst, fox, 0);
    return seconds_since(t0) * 1000;
  };
  auto cold = backend.instantiate(*weights, spec({}));
  const double first = timed(**cold), second = timed(**cold);
  auto warm = backend.instantiate(*weights, spec({}));
  auto t0 = std::chrono::steady_clock::now();
  (void)(*warm)->warmup();
  const double warmup_ms = seconds_since(t0) * 1000;
  const double warmed_first = timed(**warm);
  std::printf("3.0 s sentence: first run %.0f ms, second %.0f ms; warmup() %.0f ms, then first run %.0f ms\n", first,
              second, warmup_ms, warmed_first);

  auto pcm = audio::decode(fox, {});
  std::vector<float> once = pcm->samples;
  for (int i = 0; i < 15; ++i) pcm->samples.insert(pcm->samples.end(), once.begin(), once.end());
  const std::vector<std::int16_t> samples = audio::to_int16(*pcm);
  std::string bytes(samples.size() * 2, '\0');
  std::memcpy(bytes.data(), samples.data(), bytes.size());
  Request request;
  request.inputs.push_back({"audio", "INT16", {static_cast<std::int64_t>(samples.size())}, Buffer::adopt(std::move(bytes))});
  request.parameters.set("sample_rate", std::int64_t{pcm->sample_rate});
  double worst = 0;
  for (int delay_ms : {50, 300, 1000, 2000}) {
    std::stop_source source;
    std::chrono::steady_clock::time_point stopped_at;
    std::jthread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      stopped_at = std::chrono::steady_clock::now();
      source.request_stop();
    });
    CollectSink sink;
    const Status s = (*warm)->run(request, sink, source.get_token());
    stopper.join();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - stopped_at).count();
    worst = std::max(worst, ms);
    std::printf("stop after %d ms of a %.0f s transcription: %s %.1f ms later\n", delay_ms, pcm->seconds(),
                s.code() == StatusCode::kCancelled ? "cancelled" : "NOT cancelled", ms);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "memory") {
    std::vector<int> counts;
    for (int i = 2; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
    return memory(counts);
  }
  if (mode == "memory-row" && argc > 4) {
    std::vector<int> counts;
    for (int i = 4; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
    return memory_row(argv[2], argv[3], counts);
  }
  if (mode == "latency") return latency();
  if (mode == "accuracy") return accuracy(argc > 2 && std::string(argv[2]) == "-v");
  std::fprintf(stderr, "usage: stt_measure memory [N...] | accuracy [-v]\n");
  return 2;
}
