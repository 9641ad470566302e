// `modelpool loadgen`: drives an OpenAI-compatible server with concurrent
// requests and reports throughput, TTFT and latency (see cli/loadgen.h).
#pragma once

#include <CLI/CLI.hpp>

namespace modelpool::cli {

// Registers the subcommand. After parsing, its callback runs the load and
// sets `*exit_code`: 0 when every request succeeded, 1 otherwise (or when
// --json cannot be written). Bad arguments throw CLI errors naming the
// option (exit code 2 in main).
void add_loadgen_command(CLI::App& app, int* exit_code);

}  // namespace modelpool::cli
