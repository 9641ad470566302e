// The replay driver of a fuzz target (src/**/*_fuzz.cc): runs its
// LLVMFuzzerTestOneInput once on every file given, or in the folders given
// (not recursively, in name order), as libFuzzer runs a corpus, without
// libFuzzer: any compiler builds it, so `make test` and the sanitizer
// builds replay the committed corpora and crash reproducers (fuzz/) as the
// ctest tests fuzz.replay.TARGET. A folder that does not exist is skipped
// (a target with no crash reproducer has no fuzz/crashes/TARGET/), but no
// input at all is a failure. Prints how many inputs ran, how long they
// took, and the slowest.
//
//   fuzz_replay_http fuzz/corpus/http fuzz/crashes/http
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path path(argv[i]);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      inputs.insert(inputs.end(), files.begin(), files.end());
    } else if (fs::is_regular_file(path, ec)) {
      inputs.push_back(path);
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "fuzz replay: no input in the paths given\n");
    return 1;
  }
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  Clock::duration slowest{};
  fs::path slowest_input;
  for (const fs::path& input : inputs) {
    std::ifstream in(input, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "fuzz replay: cannot read %s\n", input.c_str());
      return 1;
    }
    const Clock::time_point before = Clock::now();
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    if (Clock::now() - before > slowest) {
      slowest = Clock::now() - before;
      slowest_input = input;
    }
  }
  const auto ms = [](Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  std::printf("fuzz replay: %zu inputs in %.0f ms; slowest %.1f ms (%s)\n", inputs.size(),
              ms(Clock::now() - start), ms(slowest), slowest_input.filename().c_str());
  return 0;
}
