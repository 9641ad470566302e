// The stt backend's options, read and checked: which acoustic model,
// dictionary and search (a language model, a JSGF grammar or a keyword
// list) a decoder is built from, and what requests the model accepts.
//
// from_options() applies the schema (stt_options()) and the rules it cannot
// say, without building a decoder:
//  - exactly one search is in effect: `lm` (the default), `jsgf` or
//    `keywords`; giving two of them is refused, naming both;
//  - every file and directory named exists (refused naming the option and
//    the path);
//  - ModelSpec::path, when given, is the acoustic model directory (as
//    `model_dir`); giving both with different values is refused.
#pragma once

#include <string>
#include <vector>

#include "modelpool/backend.h"
#include "modelpool/options.h"
#include "modelpool/status.h"

namespace modelpool::stt {

// The schema the backend publishes (BackendInfo::options).
const OptionSchema& stt_options();

struct SttConfig {
  enum class Search { kLanguageModel, kGrammar, kKeywords };

  std::string model_dir;  // acoustic model (mdef, means, sendump, ...)
  std::string dict;       // pronunciation dictionary
  Search search = Search::kLanguageModel;
  std::string search_file;  // the lm, jsgf or keywords file, per `search`
  std::string language;     // what requests may ask for ("en")
  double max_seconds = 600;
  int sample_rate = 16000;  // the acoustic model's; audio is resampled to it
  bool mmap = true;         // map the model's read-only tables (shared)

  // kInvalidArgument naming the option (and path) at fault.
  static Result<SttConfig> from_options(const ModelSpec& spec);

  // The pocketsphinx command-line arguments of a decoder for this config,
  // as name/value pairs ("-hmm", DIR, "-lm", FILE, ...).
  std::vector<std::string> decoder_args() const;

  // "lm", "jsgf" or "keywords": the option that names the search.
  std::string_view search_option() const;
};

}  // namespace modelpool::stt
