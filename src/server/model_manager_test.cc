// The seam from the server's side: an engine the server has never heard of
// is served once it is registered, through the same calls as the built-in
// ones, and a route's capability is the model's to declare.
#include "server/model_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

namespace modelpool::server {
namespace {

using namespace std::chrono_literals;

// A third-party engine in a few lines: its model upper-cases BYTES tensors.
class UpperWeights final : public Weights {
 public:
  std::size_t bytes() const override { return 1; }
};

class UpperInstance final : public Instance {
 public:
  std::size_t bytes() const override { return 0; }
  Status run(const Request& request, Sink& sink, std::stop_token) override {
    for (const Tensor& in : request.inputs) {
      Tensor out = in;
      std::string text(in.data.view());
      std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
      out.data = Buffer::adopt(std::move(text));
      if (!sink.write(std::move(out))) return cancelled_error("consumer gone");
    }
    return {};
  }
};

class UpperBackend final : public Backend {
 public:
  const BackendInfo& info() const override {
    static const BackendInfo info{"upper", "upper-cases its inputs", static_cast<Capabilities>(Capability::kInfer),
                                  false, false, {}};
    return info;
  }
  Result<std::shared_ptr<const Weights>> load(const ModelSpec&, const ProgressFn&) override {
    ++loads;
    return std::shared_ptr<const Weights>(std::make_shared<UpperWeights>());
  }
  Result<std::unique_ptr<Instance>> instantiate(std::shared_ptr<const Weights>, const ModelSpec&) override {
    return std::unique_ptr<Instance>(std::make_unique<UpperInstance>());
  }
  std::atomic<int> loads{0};
};

// The one registration line, as the composition root has it.
UpperBackend& registered_upper() {
  static const std::shared_ptr<UpperBackend> backend = [] {
    auto b = std::make_shared<UpperBackend>();
    default_catalog().add(b);
    return b;
  }();
  return *backend;
}

ModelConfig upper_config(const std::string& name) {
  ModelConfig c;
  c.name = name;
  c.backend = "upper";
  c.min_instances = c.max_instances = 2;
  return c;
}

TEST(ModelManagerTest, ServesAnEngineRegisteredByNameThroughTheSameSeam) {
  UpperBackend& backend = registered_upper();
  const int loads_before = backend.loads.load();
  ModelManager models({upper_config("shout"), upper_config("yell")});
  ASSERT_TRUE(models.load("shout").ok());
  ASSERT_TRUE(models.load("yell").ok());
  // Two models of one spec share one load of the weights.
  EXPECT_EQ(backend.loads.load() - loads_before, 1);

  std::shared_ptr<ServedModel> m = models.find("shout");
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->can(Capability::kInfer));
  EXPECT_FALSE(m->can(Capability::kGenerate));
  Request request;
  request.inputs.push_back({"text", "BYTES", {1}, Buffer::copy("hello")});
  CollectSink sink;
  Result<InferStats> r = m->model().infer(request, sink, Clock::now() + 5s, {});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(sink.outputs.size(), 1u);
  EXPECT_EQ(sink.outputs[0].data.view(), "HELLO");
  EXPECT_EQ(m->model().stats().pool.idle, 2u);
}

TEST(ModelManagerTest, AModelRefusesACapabilityItLacksNamingIt) {
  registered_upper();
  ModelManager models({upper_config("shout")});
  ASSERT_TRUE(models.load("shout").ok());
  GenerationRequest g;
  g.prompt = "hi";
  Result<GenerationResult> r = models.find("shout")->model().generate(g, Clock::now() + 1s, {});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("generate"), std::string::npos) << r.status().to_string();
  const Status named = missing_capability_error("shout", Capability::kGenerate);
  EXPECT_EQ(named.message(), "model 'shout' does not support generate");
}

TEST(ModelManagerTest, AnUnknownBackendNamesTheRegisteredOnes) {
  BackendCatalog catalog;
  catalog.add(std::make_shared<UpperBackend>());
  Result<std::shared_ptr<Backend>> b = catalog.find("tensorflow");
  EXPECT_EQ(b.status().code(), StatusCode::kNotFound);
  EXPECT_NE(b.status().message().find("tensorflow"), std::string::npos);
  EXPECT_NE(b.status().message().find("upper"), std::string::npos);
}

}  // namespace
}  // namespace modelpool::server
