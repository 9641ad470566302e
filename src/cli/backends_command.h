// `modelpool backends`: what each registered backend is and the options its
// models take, from its BackendInfo (backend.h, options.h).
//
//   modelpool backends             name, summary, capabilities, path and modes,
//                                  and a table of options (type, values,
//                                  default, meaning) per backend
//   modelpool backends --markdown  the README's option tables, as they must read
#pragma once

#include <CLI/CLI.hpp>

namespace modelpool::cli {

// Registers the subcommand; after parsing, its action prints the listing of
// default_catalog() on stdout and stores 0 in *exit_code.
void add_backends_command(CLI::App& app, int* exit_code);

}  // namespace modelpool::cli
