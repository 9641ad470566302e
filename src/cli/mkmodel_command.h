// `modelpool mkmodel`: writes a llama GGUF with deterministic random weights
// (modelpool::make_model), for tests and benchmarks that need a model file.
#pragma once

#include <CLI/CLI.hpp>

namespace modelpool::cli {

// Registers the subcommand; after parsing, its action stores the process exit
// code in *exit_code (0 written, 1 failed with a message on stderr).
void add_mkmodel_command(CLI::App& app, int* exit_code);

}  // namespace modelpool::cli
