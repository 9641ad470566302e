#include "server/config.h"

#include <set>

#include "modelpool/options.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace modelpool::server {
namespace {

// The diagnostics of a refusal, one a line.
std::vector<std::string> diagnostics_of(const std::string& message) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = message.find('\n', start);
    lines.push_back(message.substr(start, end - start));
    if (end == std::string::npos) return lines;
    start = end + 1;
  }
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Parses `toml` as models.toml and expects exactly one diagnostic: at `line`,
// naming `needle` (the key and, where it matters, what was wrong).
void expect_refused(const std::string& toml, int line, const std::string& needle) {
  SCOPED_TRACE("config:\n" + toml);
  Result<ServerConfig> parsed = parse_config(toml, "models.toml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  const std::vector<std::string> diagnostics = diagnostics_of(parsed.status().message());
  ASSERT_EQ(diagnostics.size(), 1u) << parsed.status().message();
  const std::string prefix = "models.toml:" + std::to_string(line) + ": ";
  EXPECT_EQ(diagnostics[0].rfind(prefix, 0), 0u) << "want prefix '" << prefix << "' in\n"
                                                 << diagnostics[0];
  EXPECT_TRUE(contains(diagnostics[0], needle)) << "want '" << needle << "' in\n" << diagnostics[0];
}

// A valid sim model named 'm' (lines 1-3) followed by `rest` (from line 4).
std::string sim_model(const std::string& rest) {
  return "[[model]]\nname = \"m\"\nbackend = \"sim\"\n" + rest;
}

ServerConfig parse_ok(const std::string& toml) {
  Result<ServerConfig> parsed = parse_config(toml, "models.toml");
  EXPECT_TRUE(parsed.ok()) << parsed.status().message() << "\nconfig:\n" << toml;
  return parsed.ok() ? *parsed : ServerConfig{};
}

TEST(ConfigTest, HandlerThreadsCoverWhatTheModelsHoldAtOnce) {
  ModelConfig batched;
  batched.backend = "llama";
  batched.mode = "batched";
  batched.slots = 8;
  batched.max_instances = 3;  // not used in batched mode
  batched.max_queue = 100;
  ModelConfig exclusive = batched;
  exclusive.mode = "exclusive";
  ModelConfig sim;
  sim.backend = "sim";
  sim.max_instances = 4;
  sim.max_queue = 20;
  EXPECT_EQ(default_handler_threads({batched, exclusive, sim}), (8 + 100) + (3 + 100) + (4 + 20) + 4u);
  EXPECT_EQ(default_handler_threads({}), 16u);  // the floor
  sim.max_queue = 0;
  EXPECT_EQ(default_handler_threads({sim}), 16u);
  sim.max_queue = 1u << 20;
  EXPECT_EQ(default_handler_threads({sim, sim}), 4096u);  // the ceiling

  EXPECT_EQ(parse_ok("").handler_threads, 0u);  // unset: the server computes it
  expect_refused("[server]\nhandler_threads = 0\n", 2, "key 'handler_threads': expected a positive integer, got 0");
  expect_refused("[server]\nstream_buffer_bytes = -1\n", 2, "key 'stream_buffer_bytes'");
  expect_refused("[server]\nwrite_timeout_ms = 0\n", 2, "key 'write_timeout_ms'");
}

TEST(ConfigTest, FullFileRoundTripsEveryField) {
  const ServerConfig config = parse_ok(R"([server]
host = "0.0.0.0"
port = 9090
api_key = "secret"
max_body_bytes = 4096
max_audio_upload_mb = 100
read_timeout_ms = 1500
drain_timeout_ms = 0
stall_timeout_ms = 2500
handler_threads = 12
stream_buffer_bytes = 65536
write_timeout_ms = 750
allow_client_shm = true

[[model]]
name = "Qwen2.5-0.5B_instruct"
backend = "llama"
path = "/models/small.gguf"
mode = "exclusive"
instances = [0, 3]
slots = 4
context = 4096
threads = 6
max_queue = 0
timeout_ms = 1234
warmup = false
[model.options]
prefill_chunk = 32
fault_step_delay_ms = 0

[[model]]
name = "sim"
backend = "sim"
instances = 2
[model.options]
share_weights = false
weights_mb = 3
fail_run_every = 9007199254740993
service_ms = 0.1
service = "cpu"
)");
  EXPECT_EQ(config.host, "0.0.0.0");
  EXPECT_EQ(config.port, 9090);
  EXPECT_EQ(config.api_key, "secret");
  EXPECT_EQ(config.max_body_bytes, 4096u);
  EXPECT_EQ(config.max_audio_upload_mb, 100u);
  EXPECT_EQ(config.read_timeout_ms, 1500);
  EXPECT_EQ(config.drain_timeout_ms, 0);
  EXPECT_EQ(config.stall_timeout_ms, 2500);
  EXPECT_EQ(config.handler_threads, 12u);
  EXPECT_EQ(config.stream_buffer_bytes, 65536u);
  EXPECT_EQ(config.write_timeout_ms, 750);
  EXPECT_TRUE(config.allow_client_shm);
  ASSERT_EQ(config.models.size(), 2u);

  const ModelConfig& llama = config.models[0];
  EXPECT_EQ(llama.name, "Qwen2.5-0.5B_instruct");
  EXPECT_EQ(llama.backend, "llama");
  EXPECT_EQ(llama.path, "/models/small.gguf");
  EXPECT_EQ(llama.mode, "exclusive");
  EXPECT_EQ(llama.min_instances, 0u);
  EXPECT_EQ(llama.max_instances, 3u);
  EXPECT_EQ(llama.slots, 4u);
  EXPECT_EQ(llama.context, 4096u);
  EXPECT_EQ(llama.threads, 6u);
  EXPECT_EQ(llama.max_queue, 0u);
  EXPECT_EQ(llama.timeout_ms, 1234);
  EXPECT_FALSE(llama.warmup);
  EXPECT_EQ(llama.options, (std::map<std::string, std::string>{{"prefill_chunk", "32"},
                                                                  {"fault_step_delay_ms", "0"}}));

  const ModelConfig& sim = config.models[1];
  EXPECT_EQ(sim.name, "sim");
  EXPECT_EQ(sim.backend, "sim");
  EXPECT_EQ(sim.min_instances, 2u);  // one integer: a fixed pool
  EXPECT_EQ(sim.max_instances, 2u);
  const std::map<std::string, std::string> options = {
      {"share_weights", "false"}, {"weights_mb", "3"}, {"fail_run_every", "9007199254740993"},
      {"service_ms", "0.1"},      {"service", "cpu"},
  };
  EXPECT_EQ(sim.options, options);
  EXPECT_EQ(std::stod(sim.options.at("service_ms")), 0.1);  // reads back to the same double
}

TEST(ConfigTest, FloatOptionsKeepEnoughDigits) {
  for (const double want : {0.30000000000000004, 2.5e-7, 123456.78901234567}) {
    char text[64];
    std::snprintf(text, sizeof text, "[model.options]\nservice_ms = %.17g\n", want);
    const ServerConfig config = parse_ok(sim_model(text));
    ASSERT_EQ(config.models.size(), 1u);
    EXPECT_EQ(std::stod(config.models[0].options.at("service_ms")), want) << text;
  }
}

TEST(ConfigTest, RefusesUnknownOrBadBackendOptionsAtTheOptionsTable) {
  expect_refused(sim_model("[model.options]\nservice_ms = 5\nservce = \"cpu\"\n"), 4,
                 "unknown option 'servce'");
  expect_refused(sim_model("[model.options]\nservice = \"gpu\"\n"), 4, "option 'service'");
  const std::string llama = "[[model]]\nname = \"m\"\nbackend = \"llama\"\npath = \"/m.gguf\"\n";
  expect_refused(llama + "[model.options]\nprefil_chunk = 8\n", 5, "unknown option 'prefil_chunk'");
  expect_refused(llama + "[model.options]\nprefill_chunk = 0\n", 5, "option 'prefill_chunk'");
  expect_refused(llama + "mode = \"exclusive\"\n[model.options]\nfault_step_delay_ms = 5\n", 6,
                 "'fault_step_delay_ms' applies to mode 'batched' only");
}

TEST(ConfigTest, OmittedKeysKeepTheDefaults) {
  const ServerConfig empty = parse_ok("");
  const ServerConfig defaults;
  EXPECT_EQ(empty.host, "127.0.0.1");
  EXPECT_EQ(empty.port, 8080);
  EXPECT_EQ(empty.api_key, "");
  EXPECT_EQ(empty.max_body_bytes, defaults.max_body_bytes);
  EXPECT_EQ(empty.max_audio_upload_mb, 25u);  // OpenAI's limit
  EXPECT_EQ(empty.read_timeout_ms, defaults.read_timeout_ms);
  EXPECT_EQ(empty.drain_timeout_ms, defaults.drain_timeout_ms);
  EXPECT_FALSE(empty.allow_client_shm);  // off unless asked for
  EXPECT_TRUE(empty.models.empty());

  const ServerConfig config =
      parse_ok("[[model]]\nname = \"m\"\nbackend = \"llama\"\npath = \"/m.gguf\"\n");
  ASSERT_EQ(config.models.size(), 1u);
  const ModelConfig& m = config.models[0];
  const ModelConfig model_defaults;
  EXPECT_EQ(m.mode, "batched");
  EXPECT_EQ(m.min_instances, 1u);
  EXPECT_EQ(m.max_instances, 1u);
  EXPECT_EQ(m.slots, model_defaults.slots);
  EXPECT_EQ(m.context, model_defaults.context);
  EXPECT_EQ(m.threads, model_defaults.threads);
  EXPECT_EQ(m.max_queue, model_defaults.max_queue);
  EXPECT_EQ(m.timeout_ms, model_defaults.timeout_ms);
  EXPECT_TRUE(m.warmup);
  EXPECT_TRUE(m.options.empty());
}

TEST(ConfigTest, ZeroModelsAreAllowed) {
  EXPECT_TRUE(parse_ok("[server]\nport = 9000\n").models.empty());
  EXPECT_TRUE(parse_ok("model = []\n").models.empty());
}

TEST(ConfigTest, AcceptsTheEdgesOfEachRange) {
  const ServerConfig low = parse_ok(
      "[server]\nport = 1\nmax_body_bytes = 1\nread_timeout_ms = 1\ndrain_timeout_ms = 0\n" +
      sim_model("instances = [0, 1]\nslots = 1\ncontext = 16\nthreads = 0\nmax_queue = 0\n"
                "timeout_ms = 1\n"));
  EXPECT_EQ(low.port, 1);
  ASSERT_EQ(low.models.size(), 1u);
  EXPECT_EQ(low.models[0].min_instances, 0u);
  EXPECT_EQ(low.models[0].max_instances, 1u);
  EXPECT_EQ(low.models[0].context, 16u);
  EXPECT_EQ(parse_ok("[server]\nport = 65535\n").port, 65535);
  EXPECT_EQ(parse_ok("[server]\nmax_audio_upload_mb = 1\n").max_audio_upload_mb, 1u);
  EXPECT_EQ(parse_ok("[server]\nmax_audio_upload_mb = 4096\n").max_audio_upload_mb, 4096u);
  EXPECT_EQ(parse_ok(sim_model("instances = [4, 4]\n")).models.at(0).min_instances, 4u);
}

TEST(ConfigTest, RefusesUnknownKeys) {
  // The exact form of the message, once.
  Result<ServerConfig> parsed = parse_config("[server]\nhost = \"h\"\nprot = 80\n", "models.toml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message().rfind("models.toml:3: [server]: unknown key 'prot'", 0), 0u)
      << parsed.status().message();

  expect_refused("\ntitle = \"x\"\n", 2, "unknown top-level key 'title'");
  expect_refused("[server.tls]\ncert = \"c\"\n", 1, "[server]: unknown key 'tls'");
  expect_refused(sim_model("slot = 8\n"), 4, "[[model]] 'm': unknown key 'slot'");
  expect_refused(
      "[[model]]\nbackend = \"sim\"\nname = \"m\"\n\n[[model]]\nname = \"n\"\n"
      "backend = \"sim\"\npth = \"/x\"\n",
      8, "[[model]] 'n': unknown key 'pth'");
}

TEST(ConfigTest, RefusesWrongTypes) {
  expect_refused("server = 1\n", 1, "key 'server': expected a table");
  expect_refused("[model]\nname = \"m\"\n", 1, "key 'model': expected an array of tables");
  expect_refused("model = [1]\n", 1, "key 'model': expected an array of tables");
  expect_refused("[server]\nport = \"80\"\n", 2,
                 "[server]: key 'port': expected an integer in 1..65535, got a string");
  expect_refused("[server]\nhost = 1\n", 2, "key 'host': expected a string, got an integer");
  expect_refused("[server]\napi_key = true\n", 2, "key 'api_key': expected a string");
  expect_refused("[server]\nallow_client_shm = \"yes\"\n", 2, "key 'allow_client_shm': expected");
  expect_refused("[server]\nread_timeout_ms = 1.5\n", 2, "key 'read_timeout_ms'");
  // A name of the wrong type is refused once, not again as "required".
  expect_refused("[[model]]\nname = 3\nbackend = \"sim\"\n", 2,
                 "[[model]] #1: key 'name': expected a string, got an integer");
  expect_refused(sim_model("path = [\"/a\"]\n"), 4, "key 'path': expected a string, got an array");
  expect_refused(sim_model("slots = \"8\"\n"), 4,
                 "[[model]] 'm': key 'slots': expected a positive integer, got a string");
  expect_refused(sim_model("slots = 8.0\n"), 4,
                 "key 'slots': expected a positive integer, got a float");
  expect_refused(sim_model("timeout_ms = 1979-05-27\n"), 4, "key 'timeout_ms'");
  expect_refused(sim_model("warmup = 1\n"), 4, "key 'warmup': expected a boolean, got an integer");
  expect_refused(sim_model("instances = \"2\"\n"), 4, "key 'instances'");
  expect_refused(sim_model("instances = [1, \"2\"]\n"), 4, "key 'instances': max:");
  expect_refused(sim_model("instances = [1, 2, 3]\n"), 4, "key 'instances'");
  expect_refused(sim_model("options = 3\n"), 4, "key 'options': expected a table");
  expect_refused(sim_model("[model.options]\nok = 1\nnested = { a = 1 }\n"), 6,
                 "key 'options.nested': expected a string, number or boolean, got a table");
  expect_refused(sim_model("[model.options]\nlist = [1, 2]\n"), 5,
                 "key 'options.list': expected a string, number or boolean, got an array");
  expect_refused(sim_model("[model.options.deep]\na = 1\n"), 4, "key 'options.deep'");
}

TEST(ConfigTest, RefusesOutOfRangeValues) {
  // The exact form of the message, once: slots on line 12 of the file.
  Result<ServerConfig> parsed = parse_config(
      "[server]\nport = 8080\n\n\n\n\n\n\n[[model]]\nname = \"default\"\nbackend = \"sim\"\n"
      "slots = -3\n",
      "models.toml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      parsed.status().message(),
      "models.toml:12: [[model]] 'default': key 'slots': expected a positive integer, got -3");

  expect_refused("[server]\nport = 0\n", 2, "key 'port': expected an integer in 1..65535, got 0");
  expect_refused("[server]\nport = 65536\n", 2, "key 'port': expected an integer in 1..65535");
  expect_refused("[server]\nmax_body_bytes = 0\n", 2, "key 'max_body_bytes'");
  expect_refused("[server]\nmax_audio_upload_mb = 0\n", 2,
                 "key 'max_audio_upload_mb': expected an integer in 1..4096, got 0");
  expect_refused("[server]\nmax_audio_upload_mb = 4097\n", 2, "key 'max_audio_upload_mb'");
  expect_refused("[server]\nmax_audio_upload_mb = 2.5\n", 2, "key 'max_audio_upload_mb'");
  expect_refused("[server]\nread_timeout_ms = 0\n", 2, "key 'read_timeout_ms'");
  expect_refused("[server]\ndrain_timeout_ms = -1\n", 2,
                 "key 'drain_timeout_ms': expected a non-negative integer, got -1");
  expect_refused("[server]\nhost = \"\"\n", 2, "key 'host'");
  expect_refused(sim_model("slots = 0\n"), 4, "key 'slots': expected a positive integer, got 0");
  expect_refused(sim_model("context = 15\n"), 4,
                 "key 'context': expected an integer >= 16, got 15");
  expect_refused(sim_model("threads = -1\n"), 4, "key 'threads': expected a non-negative integer");
  expect_refused(sim_model("max_queue = -1\n"), 4, "key 'max_queue'");
  expect_refused(sim_model("timeout_ms = 0\n"), 4, "key 'timeout_ms': expected a positive integer");
  expect_refused(sim_model("instances = 0\n"), 4, "key 'instances': expected a positive integer");
  expect_refused(sim_model("instances = [2, 1]\n"), 4,
                 "key 'instances': expected [min, max] with min <= max, got [2, 1]");
  expect_refused(sim_model("instances = [0, 0]\n"), 4, "key 'instances': max:");
  expect_refused(sim_model("instances = [-1, 2]\n"), 4, "key 'instances': min:");
}

TEST(ConfigTest, RefusesBadNamesBackendsAndModes) {
  for (const char* name : {"a b", "", "a/b", "..", "mod\u00e8le", "x:y"}) {
    expect_refused("[[model]]\nname = \"" + std::string(name) + "\"\nbackend = \"sim\"\n", 2,
                   "[[model]] #1: key 'name'");
  }
  expect_refused("\n[[model]]\nbackend = \"sim\"\n", 2, "key 'name': is required");
  expect_refused(sim_model("") + "\n[[model]]\nname = \"n\"\n", 5,
                 "[[model]] 'n': key 'backend': is required");
  expect_refused("[[model]]\nname = \"m\"\nbackend = \"onnx\"\n", 3,
                 "key 'backend': expected llama, sim, stt or tts, got 'onnx'");
  expect_refused(sim_model("mode = \"parallel\"\n"), 4,
                 "key 'mode': expected exclusive or batched, got 'parallel'");
  expect_refused("\n\n[[model]]\nname = \"m\"\nbackend = \"llama\"\n", 3,
                 "key 'path': is required for backend 'llama'");
  EXPECT_EQ(parse_ok("[[model]]\nname = \"A.z_0-9\"\nbackend = \"sim\"\n").models.at(0).name,
            "A.z_0-9");
}

TEST(ConfigTest, RefusesDuplicateModelNames) {
  expect_refused(sim_model("") + "\n[[model]]\nbackend = \"sim\"\nname = \"m\"\n", 7,
                 "[[model]] 'm': key 'name': 'm' is already the name of the [[model]] at line 2");
}

TEST(ConfigTest, ReportsEveryProblemInFileOrder) {
  Result<ServerConfig> parsed = parse_config(
      "[server]\nzzz = 1\nport = 0\n" + std::string("[[model]]\nname = \"m\"\nbackend = \"x\"\n"),
      "models.toml");
  ASSERT_FALSE(parsed.ok());
  const std::vector<std::string> diagnostics = diagnostics_of(parsed.status().message());
  ASSERT_EQ(diagnostics.size(), 3u) << parsed.status().message();
  EXPECT_EQ(diagnostics[0].rfind("models.toml:2: [server]: unknown key 'zzz'", 0), 0u);
  EXPECT_EQ(diagnostics[1].rfind("models.toml:3: [server]: key 'port'", 0), 0u);
  EXPECT_EQ(diagnostics[2].rfind("models.toml:6: [[model]] 'm': key 'backend'", 0), 0u);
}

TEST(ConfigTest, ReportsTheLineOfATomlSyntaxError) {
  expect_refused("[server]\nport = 8080\nhost = = \"x\"\n", 3, "TOML syntax error");
  expect_refused("[server]\nport = 8080\n\nport = 8081\n", 4, "TOML syntax error");
}

TEST(ConfigTest, LoadsAFileAndNamesItInErrors) {
  const std::string dir = testing::TempDir();
  const std::string path = dir + "/modelpool_config_test_models.toml";
  {
    std::ofstream out(path);
    out << sim_model("slots = 0\n");
  }
  Result<ServerConfig> loaded = load_config_file(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(loaded.status().message().rfind(path + ":4: ", 0), 0u) << loaded.status().message();

  {
    std::ofstream out(path);
    out << sim_model("slots = 2\n");
  }
  loaded = load_config_file(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->models.at(0).slots, 2u);
}

TEST(ConfigTest, MissingFileIsNotFound) {
  const std::string path = testing::TempDir() + "/modelpool_config_test_no_such_file.toml";
  Result<ServerConfig> loaded = load_config_file(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(contains(loaded.status().message(), path)) << loaded.status().message();

  Result<ServerConfig> directory = load_config_file(testing::TempDir());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), StatusCode::kNotFound);
}

ModelConfig valid_model() {
  ModelConfig m;
  m.name = "m";
  m.backend = "llama";
  m.path = "/models/m.gguf";
  return m;
}

TEST(ConfigTest, ValidateModelAcceptsAValidModel) {
  EXPECT_TRUE(validate_model(valid_model()).ok());
  ModelConfig sim;
  sim.name = "s";
  sim.backend = "sim";
  sim.min_instances = 0;
  EXPECT_TRUE(validate_model(sim).ok());
}

TEST(ConfigTest, ValidateModelNamesTheModelAndTheField) {
  struct Case {
    void (*change)(ModelConfig&);
    std::string field;
  };
  const Case cases[] = {
      {[](ModelConfig& m) { m.name = "a b"; }, "'name'"},
      {[](ModelConfig& m) { m.backend = "onnx"; }, "'backend'"},
      {[](ModelConfig& m) { m.backend.clear(); }, "'backend'"},
      {[](ModelConfig& m) { m.path.clear(); }, "'path'"},
      {[](ModelConfig& m) { m.mode = "parallel"; }, "'mode'"},
      {[](ModelConfig& m) {
         m.min_instances = 3;
         m.max_instances = 2;
       },
       "'instances'"},
      {[](ModelConfig& m) {
         m.min_instances = 0;
         m.max_instances = 0;
       },
       "'instances'"},
      {[](ModelConfig& m) { m.slots = 0; }, "'slots'"},
      {[](ModelConfig& m) { m.context = 8; }, "'context'"},
      {[](ModelConfig& m) { m.timeout_ms = 0; }, "'timeout_ms'"},
      {[](ModelConfig& m) { m.timeout_ms = -5; }, "'timeout_ms'"},
  };
  for (const Case& c : cases) {
    ModelConfig m = valid_model();
    c.change(m);
    const Status s = validate_model(m);
    ASSERT_FALSE(s.ok()) << c.field;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(s.message(), "key " + c.field)) << s.message();
    if (m.name == "m") {
      EXPECT_EQ(s.message().rfind("model 'm': ", 0), 0u) << s.message();
    }
  }

  ModelConfig unnamed = valid_model();
  unnamed.name.clear();
  unnamed.slots = 0;
  const Status s = validate_model(unnamed);
  EXPECT_EQ(s.message(),
            "model (unnamed): key 'name': is required; key 'slots': expected a positive integer, "
            "got 0");
}

// A backend of the tests' own: the config knows backends only through the
// catalog it is given.
class FakeBackend final : public Backend {
 public:
  FakeBackend()
      : info_{"fake",
              "a backend for config tests",
              static_cast<Capabilities>(Capability::kInfer),
              /*needs_path=*/true,
              /*batching=*/false,
              {OptionSpec::integer("depth", 1, 8, "2", "how deep"),
               OptionSpec::boolean("strict", false, "one instance only")}} {}
  const BackendInfo& info() const override { return info_; }
  Status check(const ModelSpec& spec, const ServeOptions& serve) const override {
    auto strict = spec.options.find("strict");
    if (strict != spec.options.end() && strict->second == "true" && serve.max_instances > 1) {
      return invalid_argument_error("option 'strict' needs one instance, got " +
                                    std::to_string(serve.max_instances));
    }
    return {};
  }
  Result<std::shared_ptr<const Weights>> load(const ModelSpec&, const ProgressFn&) override {
    return internal_error("not loaded in config tests");
  }
  Result<std::unique_ptr<Instance>> instantiate(std::shared_ptr<const Weights>,
                                                const ModelSpec&) override {
    return internal_error("not loaded in config tests");
  }

 private:
  const BackendInfo info_;
};

BackendCatalog fake_catalog() {
  BackendCatalog catalog;
  catalog.add(std::make_shared<FakeBackend>());
  return catalog;
}

// Parses `toml` against `catalog`, expecting one diagnostic at `line` with `needle`.
void expect_refused_by(const BackendCatalog& catalog, const std::string& toml, int line,
                       const std::string& needle) {
  SCOPED_TRACE("config:\n" + toml);
  Result<ServerConfig> parsed = parse_config(toml, "models.toml", catalog);
  ASSERT_FALSE(parsed.ok());
  const std::vector<std::string> diagnostics = diagnostics_of(parsed.status().message());
  ASSERT_EQ(diagnostics.size(), 1u) << parsed.status().message();
  EXPECT_EQ(diagnostics[0].rfind("models.toml:" + std::to_string(line) + ": ", 0), 0u)
      << diagnostics[0];
  EXPECT_TRUE(contains(diagnostics[0], needle)) << "want '" << needle << "' in\n" << diagnostics[0];
}

TEST(ConfigTest, KnowsBackendsOnlyThroughTheCatalog) {
  const BackendCatalog catalog = fake_catalog();
  const std::string fake = "[[model]]\nname = \"m\"\nbackend = \"fake\"\n";
  expect_refused_by(catalog, "[[model]]\nname = \"m\"\nbackend = \"sim\"\n", 3,
                    "key 'backend': expected fake, got 'sim'");
  expect_refused_by(catalog, "[[model]]\nname = \"m\"\n", 1, "key 'backend': is required (fake)");
  expect_refused_by(catalog, fake, 1, "key 'path': is required for backend 'fake'");
  expect_refused_by(catalog, fake + "path = \"/x\"\nmode = \"batched\"\n", 5,
                    "key 'mode': backend 'fake' has no batched mode: expected exclusive, got "
                    "'batched'");
  expect_refused_by(catalog, fake + "path = \"/x\"\n[model.options]\ndepth = 9\n", 5,
                    "fake model 'm': option 'depth' = '9': expected an integer in [1, 8]");
  expect_refused_by(catalog, fake + "path = \"/x\"\n[model.options]\ndeep = 1\n", 5,
                    "unknown option 'deep' (known: depth, strict)");
  // Backend::check sees the serving settings: two instances break its rule.
  expect_refused_by(catalog,
                    fake + "path = \"/x\"\ninstances = 2\n[model.options]\nstrict = true\n", 6,
                    "option 'strict' needs one instance, got 2");

  Result<ServerConfig> parsed =
      parse_config(fake + "path = \"/x\"\n[model.options]\nstrict = true\n", "m.toml", catalog);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->models.at(0).mode, "exclusive");  // the backend does not batch

  ModelConfig m;
  m.name = "m";
  m.backend = "fake";
  EXPECT_TRUE(contains(validate_model(m, catalog).message(), "key 'path'"));
  m.path = "/x";
  EXPECT_TRUE(validate_model(m, catalog).ok()) << validate_model(m, catalog).message();
  EXPECT_FALSE(validate_model(m).ok());  // the default catalog has no "fake"
}

TEST(ConfigTest, ModeDefaultsToWhatTheBackendDoes) {
  EXPECT_EQ(parse_ok(sim_model("")).models.at(0).mode, "exclusive");
  expect_refused(sim_model("mode = \"batched\"\n"), 4,
                 "key 'mode': backend 'sim' has no batched mode");
  EXPECT_EQ(parse_ok(sim_model("mode = \"exclusive\"\n")).models.at(0).mode, "exclusive");
  expect_refused(sim_model("mode = \"\"\n"), 4,
                 "key 'mode': expected exclusive or batched, got ''");
}

TEST(ConfigTest, ServeOptionsCarryTheModelsSettings) {
  ModelConfig m = valid_model();
  m.min_instances = 0;
  m.max_instances = 3;
  m.slots = 4;
  m.context = 512;
  m.threads = 2;
  m.max_queue = 7;
  m.warmup = false;
  ServeOptions serve = serve_options(m);
  EXPECT_EQ(serve.mode, ServeOptions::Mode::kBatched);  // empty: the backend's default
  EXPECT_EQ(serve.min_instances, 0u);
  EXPECT_EQ(serve.max_instances, 3u);
  EXPECT_EQ(serve.slots, 4u);
  EXPECT_EQ(serve.context, 512u);
  EXPECT_EQ(serve.threads, 2u);
  EXPECT_EQ(serve.max_queue, 7u);
  EXPECT_FALSE(serve.warmup);
  m.mode = "exclusive";
  EXPECT_EQ(serve_options(m).mode, ServeOptions::Mode::kExclusive);
  m.mode.clear();
  EXPECT_EQ(serve_options(m, fake_catalog()).mode, ServeOptions::Mode::kExclusive);
}

}  // namespace
}  // namespace modelpool::server

namespace modelpool::server {
namespace {

// The keys of the README table after `<!-- config-keys: NAME -->`: the first
// backquoted word of each row.
std::set<std::string> readme_keys(const std::string& name) {
  std::ifstream in(MODELPOOL_SOURCE_DIR "/README.md");
  std::string line;
  std::set<std::string> keys;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line == "<!-- config-keys: " + name + " -->") {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.rfind("|", 0) != 0) {
      if (!keys.empty()) break;
      continue;
    }
    const auto open = line.find('`');
    const auto close = line.find('`', open + 1);
    if (open == 2 && close != std::string::npos) keys.insert(line.substr(open + 1, close - open - 1));
  }
  keys.erase("[server]");
  keys.erase("[[model]]");
  keys.erase("[model.options]");
  return keys;
}

// The names after "(known: " in an unknown-key refusal.
std::set<std::string> known_keys(const std::string& message) {
  const auto start = message.find("(known: ");
  std::set<std::string> keys;
  if (start == std::string::npos) return keys;
  std::string list = message.substr(start + 8, message.find(')', start) - start - 8);
  std::size_t at = 0;
  while (at <= list.size()) {
    const auto comma = list.find(", ", at);
    keys.insert(list.substr(at, comma - at));
    if (comma == std::string::npos) break;
    at = comma + 2;
  }
  return keys;
}

std::string readme_text() {
  std::ifstream in(MODELPOOL_SOURCE_DIR "/README.md");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(ReadmeTest, TablesListEveryConfigKey) {
  auto server = parse_config("[server]\nzzz = 1\n", "models.toml");
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(readme_keys("[server]"), known_keys(server.status().message()));

  auto model = parse_config("[[model]]\nname = \"m\"\nbackend = \"sim\"\nzzz = 1\n", "models.toml");
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(readme_keys("[[model]]"), known_keys(model.status().message()));

  // Each backend's table is its schema, as `modelpool backends --markdown`
  // prints it, and the config refuses an unknown option naming the same keys.
  const std::string readme = readme_text();
  for (const std::shared_ptr<Backend>& backend : default_catalog().list()) {
    const BackendInfo& info = backend->info();
    SCOPED_TRACE(info.name);
    EXPECT_TRUE(check_schema(info.options).ok()) << check_schema(info.options).message();
    std::set<std::string> names;
    for (const OptionSpec& spec : info.options) names.insert(spec.name);
    EXPECT_EQ(readme_keys(info.name + " options"), names);
    EXPECT_TRUE(contains(readme, option_table_markdown(info.name, info.options)))
        << "README.md is behind the schema; regenerate its table with `modelpool backends "
           "--markdown`:\n"
        << option_table_markdown(info.name, info.options);

    const std::string path = info.needs_path ? "path = \"/m\"\n" : "";
    auto refused = parse_config("[[model]]\nname = \"m\"\nbackend = \"" + info.name + "\"\n" +
                                    path + "[model.options]\nzzz = 1\n",
                                "models.toml");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(known_keys(refused.status().message()), names) << refused.status().message();
  }
}

}  // namespace
}  // namespace modelpool::server

namespace modelpool::server {
namespace {

TEST(ConfigTest, IsolationNamesAnExecutorAndTheProcessTableNeedsProcess) {
  const ServerConfig c = parse_ok(sim_model("isolation = \"process\"\n[model.process]\nheartbeat_ms = 100\n"
                                            "hang_grace_ms = 500\ncrash_loop_limit = 3\n"
                                            "restart_backoff_max_ms = 2000\narena_mb = 64\n"));
  const ServeOptions serve = serve_options(c.models.at(0));
  EXPECT_EQ(serve.isolation, "process");
  EXPECT_EQ(serve.process.heartbeat_interval, std::chrono::milliseconds(100));
  EXPECT_EQ(serve.process.hang_grace, std::chrono::milliseconds(500));
  EXPECT_EQ(serve.process.crash_loop_limit, 3u);
  EXPECT_EQ(serve.process.restart_backoff_max, std::chrono::milliseconds(2000));
  EXPECT_EQ(serve.process.arena_bytes, std::size_t{64} << 20);
  EXPECT_EQ(serve_options(parse_ok(sim_model("")).models.at(0)).isolation, "thread");

  expect_refused(sim_model("isolation = \"container\"\n"), 4,
                 "key 'isolation': expected process, thread, got 'container'");
  expect_refused(sim_model("[model.process]\narena_mb = 8\n"), 4,
                 "key 'process': [model.process] applies to isolation = \"process\" only");
  expect_refused(sim_model("isolation = \"process\"\n[model.process]\nheartbeat_ms = 0\n"), 6,
                 "[model.process]: key 'heartbeat_ms': expected a positive integer, got 0");
  expect_refused(sim_model("isolation = \"process\"\n[model.process]\nbeat = 1\n"), 6,
                 "[model.process]: unknown key 'beat' (known: arena_mb, crash_loop_limit, hang_grace_ms, "
                 "heartbeat_ms, restart_backoff_max_ms)");
  // A sim fault that kills its process is refused in the server's own.
  expect_refused(sim_model("[model.options]\ncrash_after = 3\n"), 4, "it needs isolation = \"process\"");
  parse_ok(sim_model("isolation = \"process\"\n[model.options]\ncrash_after = 3\n"));
}

}  // namespace
}  // namespace modelpool::server

namespace modelpool::server {
namespace {

std::string refused(const std::string& toml) {
  Result<ServerConfig> parsed = parse_config(toml, "models.toml");
  EXPECT_FALSE(parsed.ok()) << toml;
  return parsed.ok() ? std::string() : parsed.status().message();
}

TEST(ConfigTest, MemoryBudgetIsASizeWithAUnitOrBytes) {
  EXPECT_EQ(parse_ok("[server]\nmemory_budget = \"6GiB\"\n").memory_budget, std::size_t{6} << 30);
  EXPECT_EQ(parse_ok("[server]\nmemory_budget = 1048576\n").memory_budget, std::size_t{1} << 20);
  EXPECT_EQ(parse_ok("").memory_budget, 0u);
  const std::string bad = refused("[server]\nmemory_budget = \"6 gigs\"\n");
  EXPECT_NE(bad.find("models.toml:2"), std::string::npos) << bad;
  EXPECT_NE(bad.find("memory_budget"), std::string::npos) << bad;
  EXPECT_NE(bad.find("unknown unit 'gigs'"), std::string::npos) << bad;
  EXPECT_NE(refused("[server]\nmemory_budget = -1\n").find("memory_budget"), std::string::npos);
  EXPECT_NE(refused("[server]\nmemory_budget = true\n").find("expected a size"), std::string::npos);
}

TEST(ConfigTest, AutoscaleTableNeedsARangeOfInstancesAndReachesThePool) {
  const ServerConfig c = parse_ok(sim_model("instances = [1, 4]\n[model.autoscale]\n"
                                            "target_ongoing_requests = 2.5\nupscale_delay_ms = 200\n"
                                            "downscale_delay_ms = 0\n"));
  const ModelConfig& m = c.models.at(0);
  EXPECT_TRUE(m.has_autoscale_table);
  const ServeOptions serve = serve_options(m);
  EXPECT_EQ(serve.autoscale.target_ongoing_requests, 2.5);
  EXPECT_EQ(serve.autoscale.upscale_delay, std::chrono::milliseconds(200));
  EXPECT_EQ(serve.autoscale.downscale_delay, std::chrono::milliseconds(0));
  // Without the table: the defaults (Ray Serve's downscale delay).
  const ServeOptions plain = serve_options(parse_ok(sim_model("instances = [1, 4]\n")).models.at(0));
  EXPECT_EQ(plain.autoscale.target_ongoing_requests, 1.0);
  EXPECT_EQ(plain.autoscale.downscale_delay, std::chrono::milliseconds(600000));

  EXPECT_NE(refused(sim_model("instances = 2\n[model.autoscale]\nupscale_delay_ms = 1\n"))
                .find("[model.autoscale] needs instances = [min, max] with min < max, got [2, 2]"),
            std::string::npos);
  EXPECT_NE(refused(sim_model("instances = [1, 2]\n[model.autoscale]\ntarget_ongoing_requests = 0\n"))
                .find("target_ongoing_requests"),
            std::string::npos);
  EXPECT_NE(refused(sim_model("instances = [1, 2]\n[model.autoscale]\nupscale_delay = 1\n"))
                .find("unknown key"),
            std::string::npos);
  EXPECT_NE(refused("[[model]]\nname = \"m\"\nbackend = \"llama\"\npath = \"/m.gguf\"\n"
                    "instances = [1, 2]\n[model.autoscale]\n")
                .find("mode 'batched' runs one engine with a fixed number of slots"),
            std::string::npos);
}

}  // namespace
}  // namespace modelpool::server

namespace modelpool::server {
namespace {

TEST(ConfigTest, DrainDelayIsMillisecondsUpToTenMinutes) {
  EXPECT_EQ(parse_ok("").drain_delay_ms, 0);
  EXPECT_EQ(parse_ok("[server]\ndrain_delay_ms = 2500\n").drain_delay_ms, 2500);
  Result<ServerConfig> bad = parse_config("[server]\ndrain_delay_ms = 600001\n", "models.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("drain_delay_ms"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace modelpool::server
