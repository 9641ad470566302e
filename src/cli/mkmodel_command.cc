#include "cli/mkmodel_command.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "cli/report.h"
#include "backends/llama/llm_service.h"

namespace modelpool::cli {
namespace {

// The number of parameters (elements of all tensors) in a GGUF file, read
// from its tensor table; nullopt when the file cannot be read as GGUF.
// make_model returns only a Status, and the CLI does not see llama.cpp's
// gguf.h, so the summary reads the count back from what was written.
std::optional<std::uint64_t> count_parameters(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const auto u32 = [&] {
    std::uint32_t v = 0;
    in.read(reinterpret_cast<char*>(&v), sizeof v);
    return v;
  };
  const auto u64 = [&] {
    std::uint64_t v = 0;
    in.read(reinterpret_cast<char*>(&v), sizeof v);
    return v;
  };
  const auto skip = [&](std::uint64_t n) {
    in.seekg(static_cast<std::streamoff>(n), std::ios::cur);
  };
  // Bytes of each scalar gguf_type by id; 8 (string) and 9 (array) vary.
  constexpr std::uint64_t kScalarBytes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  constexpr std::uint32_t kString = 8, kArray = 9, kTypes = 13;
  const auto skip_value = [&](std::uint32_t type) {
    if (type == kArray) {
      const std::uint32_t element = u32();
      const std::uint64_t n = u64();
      if (element == kString) {
        for (std::uint64_t i = 0; i < n && in; ++i) skip(u64());
      } else if (element < kTypes && element != kArray) {
        skip(n * kScalarBytes[element]);
      } else {
        in.setstate(std::ios::failbit);
      }
    } else if (type == kString) {
      skip(u64());
    } else if (type < kTypes) {
      skip(kScalarBytes[type]);
    } else {
      in.setstate(std::ios::failbit);
    }
  };
  char magic[4] = {};
  in.read(magic, sizeof magic);
  if (!in || std::string(magic, sizeof magic) != "GGUF") return std::nullopt;
  u32();  // version
  const std::uint64_t n_tensors = u64();
  const std::uint64_t n_kv = u64();
  for (std::uint64_t i = 0; i < n_kv && in; ++i) {
    skip(u64());  // key
    skip_value(u32());
  }
  std::uint64_t params = 0;
  for (std::uint64_t i = 0; i < n_tensors && in; ++i) {
    skip(u64());  // name
    std::uint64_t elements = 1;
    for (std::uint32_t d = u32(); d > 0 && in; --d) elements *= u64();
    u32();  // type
    u64();  // offset
    params += elements;
  }
  if (!in) return std::nullopt;
  return params;
}

int run_mkmodel(const MakeModelOptions& options) {
  ProgressDisplay display("mkmodel: writing " + options.out);
  MakeModelOptions with_progress = options;
  with_progress.progress = [&display](double fraction) { display.update(fraction); };
  const Status status = make_model(with_progress);
  display.finish();
  if (!status.ok()) {
    std::fprintf(stderr, "modelpool mkmodel: %s\n", status.to_string().c_str());
    return 1;
  }
  std::error_code ec;
  const std::uintmax_t bytes = std::filesystem::file_size(options.out, ec);
  const std::optional<std::uint64_t> params = count_parameters(options.out);
  std::printf("modelpool-%s (seed %llu): %.2fM params, %ju bytes (%.1f MiB) -> %s\n",
              options.preset.c_str(), static_cast<unsigned long long>(options.seed),
              params ? static_cast<double>(*params) / 1e6 : 0.0, ec ? std::uintmax_t{0} : bytes,
              ec ? 0.0 : static_cast<double>(bytes) / (1024.0 * 1024.0), options.out.c_str());
  return 0;
}

}  // namespace

void add_mkmodel_command(CLI::App& app, int* exit_code) {
  // The parsed values live as long as the App: CLI11 keeps references to
  // them, and the callback holds this struct.
  auto options = std::make_shared<MakeModelOptions>();
  CLI::App* cmd = app.add_subcommand(
      "mkmodel",
      "Write a llama GGUF with deterministic random weights and the llama SPM tokenizer, "
      "for tests and benchmarks");
  cmd->add_option("--preset", options->preset,
                  "tiny: 4M params, 9 MB; small: 60M, 121 MB; medium: 542M, 1.09 GB")
      ->check(CLI::IsMember({"tiny", "small", "medium"}))
      ->capture_default_str();
  cmd->add_option("--out", options->out, "GGUF file to write (replaced if it exists)")->required();
  cmd->add_option("--seed", options->seed, "Seed of the weights: same seed and preset, same bytes")
      // CLI11 would wrap "-3" around to 2^64 - 3.
      ->check([](const std::string& value) {
        return value.find('-') == std::string::npos ? std::string() : "must not be negative";
      })
      ->capture_default_str();
  cmd->add_option(
      "--vocab", options->vocab,
      "GGUF to take the tokenizer from (default: the pinned llama.cpp's llama SPM vocab)");
  cmd->callback([options, exit_code] { *exit_code = run_mkmodel(*options); });
}

}  // namespace modelpool::cli
