#include "cli/backends_command.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "modelpool/backend.h"
#include "modelpool/executor.h"
#include "modelpool/options.h"

namespace modelpool::cli {
namespace {

constexpr Capability kCapabilities[] = {Capability::kInfer, Capability::kGenerate,
                                        Capability::kTranscribe, Capability::kSpeak};

std::string capabilities_text(Capabilities set) {
  std::string out;
  for (Capability c : kCapabilities) {
    if (has(set, c)) out += (out.empty() ? "" : ", ") + std::string(capability_name(c));
  }
  return out.empty() ? "none" : out;
}

// The values column: "[1, 65536]", ">= 0", "sleep | cpu", "true | false".
std::string values_text(const OptionSpec& spec) {
  switch (spec.type) {
    case OptionSpec::Type::kBool: return "true | false";
    case OptionSpec::Type::kString: {
      if (spec.choices.empty()) return "any";
      std::string out;
      for (const std::string& c : spec.choices) out += (out.empty() ? "" : " | ") + c;
      return out;
    }
    case OptionSpec::Type::kInt:
    case OptionSpec::Type::kNumber: break;
  }
  // "an integer in [1, 65536]" -> "[1, 65536]"; "a number >= 0" -> ">= 0".
  const std::string words = expected_values(spec);
  const auto at = words.find_first_of("[>");
  return at == std::string::npos ? words : words.substr(at);
}

// Rows of cells, each column padded to its widest cell (the last one not).
std::string aligned(const std::vector<std::vector<std::string>>& rows, const std::string& indent) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string describe(const BackendInfo& info) {
  std::string out = info.name + ": " + info.summary + "\n";
  out += "  capabilities: " + capabilities_text(info.capabilities) + "\n";
  out += std::string("  path: ") + (info.needs_path ? "required" : "none") +
         "; modes: " + (info.batching ? "exclusive, batched" : "exclusive") + "\n";
  if (info.options.empty()) return out + "  options: none\n";
  out += "  options ([model.options]):\n";
  std::vector<std::vector<std::string>> rows = {{"name", "type", "values", "default", "meaning"}};
  for (const OptionSpec& spec : info.options) {
    const std::string default_value = spec.type == OptionSpec::Type::kString
                                          ? "\"" + spec.default_value + "\""
                                          : spec.default_value;
    rows.push_back(
        {spec.name, std::string(type_name(spec.type)), values_text(spec), default_value, spec.doc});
  }
  return out + aligned(rows, "    ");
}

}  // namespace

void add_backends_command(CLI::App& app, int* exit_code) {
  auto markdown = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "backends", "List the backends a config may name, with their capabilities and options");
  cmd->add_flag("--markdown", *markdown,
                "Print each backend's options as the README's Markdown table");
  cmd->callback([markdown, exit_code] {
    std::string out;
    for (const std::shared_ptr<Backend>& backend : default_catalog().list()) {
      if (!out.empty()) out += "\n";
      const BackendInfo& info = backend->info();
      out += *markdown ? option_table_markdown(info.name, info.options) : describe(info);
    }
    if (!*markdown) {
      out += "\nisolation (where instances run; a model's `isolation = \"...\"`):\n";
      for (const std::shared_ptr<Executor>& executor : default_catalog().executors()) {
        out += "  " + std::string(executor->name()) + ": " + std::string(executor->summary()) + "\n";
      }
    }
    std::cout << out;
    *exit_code = 0;
  });
}

}  // namespace modelpool::cli
