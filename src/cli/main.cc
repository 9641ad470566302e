// modelpool: the command line. One subcommand per job; every subcommand has
// --help, and a bad argument gets one line naming it and exit code 2.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "cli/advise/advise_command.h"
#include "cli/backends.h"
#include "cli/backends_command.h"
#include "cli/bench_command.h"
#include "cli/loadgen_command.h"
#include "cli/mkmodel_command.h"
#include "cli/serve_command.h"
#include "process/worker_main.h"

int main(int argc, char** argv) {
  modelpool::cli::register_builtin_backends(modelpool::default_catalog());
  // `modelpool worker ...`: a worker process the server started (isolation
  // = "process"); not a command for people, so not in --help.
  if (auto code = modelpool::process::run_worker_command(modelpool::default_catalog(), argc - 1, argv + 1)) {
    return *code;
  }
  CLI::App app{"modelpool: serve machine-learning models to many callers within a memory budget"};
  app.name("modelpool");
  app.require_subcommand(1);
  app.set_version_flag("--version", "modelpool " MODELPOOL_VERSION " (llama.cpp " MODELPOOL_LLAMA_RELEASE ")");
  int exit_code = 0;
  modelpool::cli::add_advise_command(app, &exit_code);
  modelpool::cli::add_backends_command(app, &exit_code);
  modelpool::cli::add_bench_command(app, &exit_code);
  modelpool::cli::add_mkmodel_command(app, &exit_code);
  modelpool::cli::add_loadgen_command(app, &exit_code);
  modelpool::cli::add_serve_command(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << "\n";
    return 0;
  } catch (const CLI::CallForHelp&) {
    // The help of the subcommand that was asked for, or of the whole program.
    const CLI::App* target = &app;
    for (const CLI::App* sub : app.get_subcommands()) target = sub;
    std::cout << target->help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "modelpool: error: %s (see --help)\n", e.what());
    return 2;
  }
  return exit_code;
}
