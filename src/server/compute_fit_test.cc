#include "server/compute_fit.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "backends/llama/llama_backend.h"
#include "backends/sim/sim_backend.h"
#include "modelpool/executor.h"
#include "modelpool/model.h"
#include "process/process_model.h"

namespace modelpool::server {
namespace {

// An engine whose run computes on the model's `threads` in lock-step, as a
// step of llama.cpp does; `threads = 0` is 2 here.
class StepsBackend final : public Backend {
 public:
  const BackendInfo& info() const override {
    static const BackendInfo info{"steps", "lock-step threads", static_cast<Capabilities>(Capability::kInfer),
                                  false, false, {}};
    return info;
  }
  Result<std::shared_ptr<const Weights>> load(const ModelSpec&, const ProgressFn&) override {
    return internal_error("not loaded in this test");
  }
  Result<std::unique_ptr<Instance>> instantiate(std::shared_ptr<const Weights>, const ModelSpec&) override {
    return internal_error("not instantiated in this test");
  }
  ComputeThreads compute_threads(const ModelSpec&, const ServeOptions& serve) const override {
    const std::size_t t = serve.threads != 0 ? serve.threads : 2;
    return {t, t};
  }
};

// An engine of one thread per run: Backend's default.
class SingleBackend final : public Backend {
 public:
  const BackendInfo& info() const override {
    static const BackendInfo info{"single", "one thread a run", static_cast<Capabilities>(Capability::kInfer),
                                  false, false, {}};
    return info;
  }
  Result<std::shared_ptr<const Weights>> load(const ModelSpec&, const ProgressFn&) override {
    return internal_error("not loaded in this test");
  }
  Result<std::unique_ptr<Instance>> instantiate(std::shared_ptr<const Weights>, const ModelSpec&) override {
    return internal_error("not instantiated in this test");
  }
};

BackendCatalog catalog() {
  BackendCatalog c;
  c.add(std::make_shared<StepsBackend>());
  c.add(std::make_shared<SingleBackend>());
  c.add_executor(std::make_shared<process::ProcessExecutor>(process::WorkerLaunch{"/nonexistent", {}}));
  return c;
}

ModelConfig model(std::string name, std::string backend, std::size_t threads, std::size_t instances,
                  std::string isolation = "thread") {
  ModelConfig m;
  m.name = std::move(name);
  m.backend = std::move(backend);
  m.mode = "exclusive";
  m.threads = threads;
  m.min_instances = 1;
  m.max_instances = instances;
  m.isolation = std::move(isolation);
  return m;
}

TEST(ComputeFitTest, ALockStepModelBesideBusyModelsPastTheCoresIsNamed) {
  // The soak's case: a 2-thread LLM and 4 speech instances on 2 cores.
  const std::string w = compute_fit_warning({model("llm", "steps", 2, 1), model("stt", "single", 0, 4)}, 2, catalog());
  EXPECT_NE(w.find("up to 6 busy ('llm' 2, 'stt' 4) on 2 cores"), std::string::npos) << w;
  EXPECT_NE(w.find("'llm' (2 threads) computes in lock-step"), std::string::npos) << w;
  EXPECT_NE(w.find("fewer `threads`"), std::string::npos) << w;
}

TEST(ComputeFitTest, ModelsThatFitTheCoresSayNothing) {
  EXPECT_EQ(compute_fit_warning({model("llm", "steps", 2, 1), model("stt", "single", 0, 2)}, 4, catalog()), "");
  EXPECT_EQ(compute_fit_warning({model("llm", "steps", 1, 1), model("stt", "single", 0, 1)}, 2, catalog()), "");
}

TEST(ComputeFitTest, SingleThreadedRunsPastTheCoresSayNothing) {
  // 30 phone lines on 2 cores take turns; nothing waits at a barrier.
  EXPECT_EQ(compute_fit_warning({model("stt", "single", 0, 30), model("llm", "steps", 1, 1)}, 2, catalog()), "");
}

TEST(ComputeFitTest, ProcessIsolationGivesEachWorkerItsShareOfTheThreads) {
  // 2 workers of 1 thread each: nothing in lock-step, whatever the load.
  EXPECT_EQ(compute_fit_warning({model("llm", "steps", 2, 2, "process"), model("stt", "single", 0, 4)}, 2,
                                catalog()),
            "");
  // 2 workers of 2 threads: 4 busy, in lock-step pairs.
  const std::string w = compute_fit_warning({model("llm", "steps", 4, 2, "process")}, 2, catalog());
  EXPECT_NE(w.find("up to 4 busy ('llm' 4)"), std::string::npos) << w;
  EXPECT_NE(w.find("'llm' (2 threads)"), std::string::npos) << w;
}

TEST(ComputeFitTest, AModelOfAnUnknownBackendIsLeftToLoadingToName) {
  EXPECT_EQ(compute_fit_warning({model("x", "nope", 8, 8), model("stt", "single", 0, 4)}, 2, catalog()), "");
}

TEST(ComputeFitTest, LlamaComputesOnItsThreadsBatchedOrSplitBetweenContexts) {
  const llama::LlamaBackend llama;
  ServeOptions batched;
  batched.mode = ServeOptions::Mode::kBatched;
  batched.threads = 4;
  EXPECT_EQ(llama.compute_threads({}, batched).busy, 4u);
  EXPECT_EQ(llama.compute_threads({}, batched).lock_step, 4u);
  ServeOptions exclusive;
  exclusive.mode = ServeOptions::Mode::kExclusive;
  exclusive.threads = 4;
  exclusive.max_instances = 2;
  EXPECT_EQ(llama.compute_threads({}, exclusive).busy, 4u);
  EXPECT_EQ(llama.compute_threads({}, exclusive).lock_step, 2u);
  batched.threads = 0;  // the cores
  EXPECT_EQ(llama.compute_threads({}, batched).busy, std::max(1u, std::thread::hardware_concurrency()));
}

TEST(ComputeFitTest, ASleepingSimComputesOnNoThreadAndASpinningOneOnOneAnInstance) {
  const SimBackend sim;
  ServeOptions serve;
  serve.max_instances = 4;
  ModelSpec spec;
  spec.options = {{"service", "sleep"}};
  EXPECT_EQ(sim.compute_threads(spec, serve).busy, 0u);
  spec.options = {{"service", "cpu"}};
  EXPECT_EQ(sim.compute_threads(spec, serve).busy, 4u);
  EXPECT_EQ(sim.compute_threads(spec, serve).lock_step, 1u);
}

}  // namespace
}  // namespace modelpool::server
