// The llama backend's load options gpu_layers and device (offload.h): what
// a build without a GPU refuses, by name, and what the registry keys weights
// by. The tests that need a GPU (a CUDA build on a machine with one) skip
// without; the refusals skip with one.
#include <gtest/gtest.h>

#include <cstdlib>
#include <stop_token>

#include "backends/llama/llama_backend.h"
#include "backends/llama/offload.h"
#include "modelpool/registry.h"

namespace modelpool {
namespace {

std::string model_path() {
  const char* p = std::getenv("MODELPOOL_TEST_MODEL");
  return p ? p : "";
}

ModelSpec spec(std::map<std::string, std::string> options) {
  ModelSpec s;
  s.name = "x";
  s.backend = "llama";
  s.path = model_path();
  s.options = std::move(options);
  return s;
}

// The error both the config check and a load give, or "" when both accept.
std::string refusal(const ModelSpec& s) {
  llama::LlamaBackend backend;
  const Status checked = backend.check(s, ServeOptions{});
  if (checked.ok()) return "";
  EXPECT_EQ(checked.code(), StatusCode::kInvalidArgument) << checked.to_string();
  auto loaded = backend.load(s, nullptr);
  EXPECT_FALSE(loaded.ok()) << "check refused what load accepts: " << checked.message();
  if (!loaded.ok()) {
    EXPECT_EQ(loaded.status().message(), checked.message());
  }
  return checked.message();
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(OffloadTest, DefaultKeepsTheModelOnTheCpu) {
  if (model_path().empty()) GTEST_SKIP() << "MODELPOOL_TEST_MODEL is not set";
  llama::LlamaBackend backend;
  for (const auto& options : {std::map<std::string, std::string>{},
                              std::map<std::string, std::string>{{"gpu_layers", "0"}}}) {
    EXPECT_TRUE(backend.check(spec(options), ServeOptions{}).ok());
    auto w = backend.load(spec(options), nullptr);
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    EXPECT_GT((*w)->bytes(), 0u);
  }
}

TEST(OffloadTest, GpuLayersWithoutAGpuAreRefusedByName) {
  if (llama::has_gpu()) GTEST_SKIP() << "this build has a GPU: " << llama::device_names();
  for (const std::string layers : {"-1", "99", "1"}) {
    const std::string error = refusal(spec({{"gpu_layers", layers}}));
    EXPECT_TRUE(
        contains(error, "llama model 'x': option 'gpu_layers' = " + layers + " needs a GPU"))
        << error;
    // Which kind of build this is decides the advice; both list the devices.
    EXPECT_TRUE(contains(error, "needs a GPU build of llama.cpp (MODELPOOL_CUDA=1") ||
                contains(error, "found none (no GPU, or no driver"))
        << error;
    EXPECT_TRUE(contains(error, llama::device_names())) << error;
  }
}

TEST(OffloadTest, AnUnknownDeviceIsRefusedListingTheDevices) {
  const std::string error = refusal(spec({{"gpu_layers", "-1"}, {"device", "CUDA9"}}));
  EXPECT_TRUE(contains(error,
                       "llama model 'x': option 'device' = 'CUDA9': no such device; this "
                       "build of llama.cpp has: " +
                           llama::device_names()))
      << error;
  EXPECT_TRUE(contains(llama::device_names(), "CPU")) << llama::device_names();
}

TEST(OffloadTest, TheCpuIsNotADeviceToOffloadTo) {
  const std::string error = refusal(spec({{"gpu_layers", "-1"}, {"device", "CPU"}}));
  EXPECT_TRUE(contains(error, "option 'device' = 'CPU' is not a GPU")) << error;
}

TEST(OffloadTest, ADeviceWithoutGpuLayersIsRefused) {
  if (!llama::has_gpu()) GTEST_SKIP() << "needs a GPU device to name";
  const std::string gpu = llama::device_names().substr(0, llama::device_names().find(','));
  const std::string error = refusal(spec({{"device", gpu}}));
  EXPECT_TRUE(contains(error, "option 'device' = '" + gpu + "' does nothing with gpu_layers = 0"))
      << error;
}

TEST(OffloadTest, GpuLayersBelowMinusOneAreRefused) {
  const std::string error = refusal(spec({{"gpu_layers", "-2"}}));
  EXPECT_TRUE(contains(error, "option 'gpu_layers' = '-2': expected an integer in [-1, 65536]"))
      << error;
}

TEST(OffloadTest, WeightsAreKeyedByWhereTheLayersGo) {
  auto key = [](std::map<std::string, std::string> options) {
    auto s = llama::weights_spec(spec(std::move(options)));
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? s->key() : "";
  };
  // Options that shape only the contexts share one copy; so do spellings of
  // the default.
  EXPECT_EQ(key({}), key({{"batch", "64"}, {"prefill_chunk", "8"}}));
  EXPECT_EQ(key({}), key({{"gpu_layers", "0"}}));
  EXPECT_EQ(key({{"gpu_layers", "99"}}), key({{"gpu_layers", "099"}, {"batch", "64"}}));
  // Where the layers go does not.
  EXPECT_NE(key({}), key({{"gpu_layers", "99"}}));
  EXPECT_NE(key({{"gpu_layers", "99"}}), key({{"gpu_layers", "-1"}}));
  EXPECT_NE(key({{"gpu_layers", "-1"}}), key({{"gpu_layers", "-1"}, {"device", "CUDA0"}}));
}

// On a GPU: every layer there, and the model still answers.
TEST(OffloadTest, AllLayersOnTheGpuGenerate) {
  if (model_path().empty()) GTEST_SKIP() << "MODELPOOL_TEST_MODEL is not set";
  if (!llama::has_gpu()) GTEST_SKIP() << "no GPU in this build: " << llama::device_names();
  Registry registry;
  llama::LlamaBackend backend;
  ServeOptions serve;
  serve.mode = ServeOptions::Mode::kBatched;
  serve.slots = 2;
  serve.context = 512;
  auto model = backend.open(registry, spec({{"gpu_layers", "-1"}}), serve);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  GenerationRequest r;
  r.prompt = "Hello";
  r.max_tokens = 8;
  r.temperature = 0;
  r.ignore_eos = true;
  auto g = (*model)->generate(r, kNoDeadline, std::stop_token{});
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(g->completion_tokens, 8);
  EXPECT_TRUE((*model)->shutdown(std::chrono::seconds(10)).ok());
}

}  // namespace
}  // namespace modelpool
