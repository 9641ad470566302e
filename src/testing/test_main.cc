// The tests' composition root: the built-in backends, then every test.
#include <gtest/gtest.h>

#include "cli/backends.h"

int main(int argc, char** argv) {
  modelpool::cli::register_builtin_backends(modelpool::default_catalog());
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
