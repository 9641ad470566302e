#include "backends/stt/stt_config.h"

#include <sys/stat.h>

#include <cmath>

namespace modelpool::stt {
namespace {

// Debian's pocketsphinx-en-us.
constexpr const char* kEnUs = "/usr/share/pocketsphinx/model/en-us";

bool exists(const std::string& path, bool directory) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return false;
  return directory ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

}  // namespace

const OptionSchema& stt_options() {
  static const OptionSchema schema = {
      OptionSpec::string("model_dir", std::string(kEnUs) + "/en-us",
                         "acoustic model directory (mdef, means, variances, sendump, ...); the "
                         "model's path, when given, is the same"),
      OptionSpec::string("dict", std::string(kEnUs) + "/cmudict-en-us.dict",
                         "pronunciation dictionary"),
      OptionSpec::string("lm", std::string(kEnUs) + "/en-us.lm.bin",
                         "n-gram language model (ARPA or binary): free speech; the default search"),
      OptionSpec::string("jsgf", "", "JSGF grammar file: only the sentences it accepts (replaces `lm`)"),
      OptionSpec::string("keywords", "",
                         "keyword list (one phrase a line, with its /threshold/): spots only those "
                         "(replaces `lm`)"),
      OptionSpec::string("language", "en",
                         "the language the model transcribes; a request asking another is refused"),
      OptionSpec::number("max_seconds", 0.1, 86400, "600", "longer audio is refused"),
      OptionSpec::integer("sample_rate", 8000, 48000, "16000",
                          "the acoustic model's sample rate; audio is resampled to it"),
      OptionSpec::boolean("mmap", true,
                          "memory-map the model's mixture weights and model definition, so every "
                          "decoder (and worker process) shares one copy"),
  };
  return schema;
}

Result<SttConfig> SttConfig::from_options(const ModelSpec& spec) {
  const std::string context = "stt model '" + spec.name + "'";
  auto v = resolve(stt_options(), spec.options, context);
  if (!v.ok()) return v.status();
  SttConfig c;
  c.model_dir = v->string("model_dir");
  if (!spec.path.empty()) {
    if (v->given("model_dir") && spec.path != c.model_dir) {
      return invalid_argument_error(context + ": its path '" + spec.path + "' and option 'model_dir' = '" +
                                    c.model_dir + "' name two acoustic models; give one");
    }
    c.model_dir = spec.path;
  }
  c.dict = v->string("dict");
  c.language = v->string("language");
  c.max_seconds = v->number("max_seconds");
  c.sample_rate = static_cast<int>(v->integer("sample_rate"));
  c.mmap = v->boolean("mmap");

  // Exactly one search: lm counts only when given, its default yields to
  // jsgf or keywords.
  std::vector<std::string> searches;
  if (v->given("lm")) searches.push_back("lm");
  if (!v->string("jsgf").empty()) searches.push_back("jsgf");
  if (!v->string("keywords").empty()) searches.push_back("keywords");
  if (searches.size() > 1) {
    std::string named;
    for (const std::string& s : searches) named += (named.empty() ? "'" : " and '") + s + "'";
    return invalid_argument_error(context + ": options " + named +
                                  " each choose the search; give one of lm, jsgf, keywords");
  }
  const std::string search = searches.empty() ? "lm" : searches.front();
  c.search = search == "jsgf"       ? Search::kGrammar
             : search == "keywords" ? Search::kKeywords
                                    : Search::kLanguageModel;
  c.search_file = v->string(search);

  if (c.language.empty()) return invalid_argument_error(context + ": option 'language' is empty");
  const std::string dir_option = spec.path.empty() ? "option 'model_dir'" : "path";
  if (!exists(c.model_dir, /*directory=*/true)) {
    return invalid_argument_error(context + ": " + dir_option + ": no directory '" + c.model_dir + "'");
  }
  if (!exists(c.model_dir + "/mdef", false)) {
    return invalid_argument_error(context + ": " + dir_option + ": '" + c.model_dir +
                                  "' is not an acoustic model (no mdef file in it)");
  }
  if (!exists(c.dict, false)) return invalid_argument_error(context + ": option 'dict': no file '" + c.dict + "'");
  if (!exists(c.search_file, false)) {
    return invalid_argument_error(context + ": option '" + search + "': no file '" + c.search_file + "'");
  }
  return c;
}

std::string_view SttConfig::search_option() const {
  switch (search) {
    case Search::kGrammar: return "jsgf";
    case Search::kKeywords: return "keywords";
    case Search::kLanguageModel: break;
  }
  return "lm";
}

std::vector<std::string> SttConfig::decoder_args() const {
  std::vector<std::string> args = {"-hmm", model_dir, "-dict", dict};
  switch (search) {
    case Search::kLanguageModel: args.insert(args.end(), {"-lm", search_file}); break;
    case Search::kGrammar: args.insert(args.end(), {"-jsgf", search_file}); break;
    case Search::kKeywords: args.insert(args.end(), {"-kws", search_file}); break;
  }
  args.insert(args.end(), {"-samprate", std::to_string(sample_rate), "-mmap", mmap ? "yes" : "no"});
  return args;
}

}  // namespace modelpool::stt
