// The tests' composition root: the built-in backends, then every test (or,
// started as `worker`, a worker process).
#include <gtest/gtest.h>

#include "cli/backends.h"
#include "process/worker_main.h"

int main(int argc, char** argv) {
  modelpool::cli::register_builtin_backends(modelpool::default_catalog());
  // Process-isolation tests start this binary as their worker.
  if (auto code = modelpool::process::run_worker_command(modelpool::default_catalog(), argc - 1, argv + 1)) {
    return *code;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
