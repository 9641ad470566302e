// `modelpool advise`: how large should the pool be for this model on this
// machine? Measures the model (measure.h), predicts every way and size with
// a queueing model fed by the measured curve (queue_model.h, recommend.h),
// prints the recommendation with its reasons and its [[model]] block, and
// with --verify runs it under the stated load and prints predicted against
// measured (verify.h).
#pragma once

#include <CLI/CLI.hpp>

namespace modelpool::cli {

// Registers the subcommand. Exit codes: 0 advice given (and, with --verify,
// every judged figure within 10%); 3 a verified figure missed by more than
// 10% (the table says which); 1 the model could not be measured or an
// output could not be written; 2 bad arguments (main).
void add_advise_command(CLI::App& app, int* exit_code);

}  // namespace modelpool::cli
