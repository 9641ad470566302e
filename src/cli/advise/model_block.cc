#include "cli/advise/model_block.h"

#include <algorithm>
#include <sstream>

namespace modelpool::cli::advise {
namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

}  // namespace

server::ModelConfig sized_config(const server::ModelConfig& original, const std::string& mode,
                                 const std::string& isolation, std::size_t size) {
  server::ModelConfig c = original;
  const std::size_t per_sequence =
      original.mode == "batched" ? original.context / std::max<std::size_t>(1, original.slots) : original.context;
  c.mode = mode;
  c.isolation = isolation;
  if (mode == "batched") {
    c.slots = size;
    c.context = per_sequence * size;
    c.min_instances = c.max_instances = 1;
  } else {
    c.context = per_sequence;
    c.min_instances = c.max_instances = size;
  }
  return c;
}

server::ModelConfig recommended_config(const server::ModelConfig& original, const Option& chosen, const Goal& goal) {
  server::ModelConfig c = sized_config(original, chosen.way->mode, chosen.way->isolation, chosen.size);
  c.max_queue = std::max(c.max_queue, goal.concurrency);
  return c;
}

std::string model_block(const server::ModelConfig& c, const BackendInfo& info) {
  std::ostringstream out;
  out << "[[model]]\n";
  out << "name = " << quoted(c.name) << "\n";
  out << "backend = " << quoted(c.backend) << "\n";
  if (!c.path.empty()) out << "path = " << quoted(c.path) << "\n";
  out << "mode = " << quoted(c.mode) << "\n";
  if (c.mode == "batched") {
    out << "slots = " << c.slots << "\n";
  } else {
    out << "instances = " << c.max_instances << "\n";
  }
  if (has(info.capabilities, Capability::kGenerate)) out << "context = " << c.context << "\n";
  if (c.threads != 0) out << "threads = " << c.threads << "\n";
  out << "max_queue = " << c.max_queue << "\n";
  out << "timeout_ms = " << c.timeout_ms << "\n";
  if (!c.warmup) out << "warmup = false\n";
  if (c.isolation != "thread") out << "isolation = " << quoted(c.isolation) << "\n";
  if (!c.options.empty()) {
    out << "[model.options]\n";
    for (const auto& [key, value] : c.options) {
      auto spec = std::find_if(info.options.begin(), info.options.end(),
                               [&](const OptionSpec& o) { return o.name == key; });
      const bool text = spec == info.options.end() || spec->type == OptionSpec::Type::kString;
      out << key << " = " << (text ? quoted(value) : value) << "\n";
    }
  }
  if (c.isolation == "process" && c.has_process_table) {
    out << "[model.process]\n";
    out << "heartbeat_ms = " << c.heartbeat_ms << "\n";
    out << "hang_grace_ms = " << c.hang_grace_ms << "\n";
    out << "crash_loop_limit = " << c.crash_loop_limit << "\n";
    out << "restart_backoff_max_ms = " << c.restart_backoff_max_ms << "\n";
    out << "arena_mb = " << c.arena_mb << "\n";
  }
  if (c.has_autoscale_table) {
    out << "[model.autoscale]\n";
    out << "target_ongoing_requests = " << c.target_ongoing_requests << "\n";
    out << "upscale_delay_ms = " << c.upscale_delay_ms << "\n";
    out << "downscale_delay_ms = " << c.downscale_delay_ms << "\n";
  }
  return out.str();
}

}  // namespace modelpool::cli::advise
