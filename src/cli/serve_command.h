// `modelpool serve`: the HTTP server.
#pragma once

#include <CLI/CLI.hpp>

namespace modelpool::cli {

void add_serve_command(CLI::App& app, int* exit_code);

}  // namespace modelpool::cli
