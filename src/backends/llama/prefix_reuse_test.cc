// The prefix cache on the real llama.cpp with the generated tiny model
// (MODELPOOL_TEST_MODEL): reused KV must give the same greedy tokens as
// computing the prompt, in batched and exclusive mode, and hits, misses and
// evictions are counted.
#include <gtest/gtest.h>

#include <cstdlib>
#include <latch>
#include <thread>

#include "backends/llama/llm_service.h"

namespace modelpool {
namespace {

std::string model_path() {
  const char* p = std::getenv("MODELPOOL_TEST_MODEL");
  return p ? p : "";
}

// About 110 tokens of the tiny model's tokenizer, shared by every prompt
// below: a service's system prompt.
const std::string kSystem =
    "You are a careful assistant for a small bakery in a quiet village by the sea. "
    "Answer questions about bread, cakes, opening hours and the daily specials. "
    "Be brief and friendly, never invent prices, and say so when you do not know. "
    "The bakery opens at seven in the morning and closes at six in the evening, "
    "every day but Monday, when the ovens are cleaned and the flour is delivered. ";

class PrefixReuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (model_path().empty()) GTEST_SKIP() << "MODELPOOL_TEST_MODEL is not set";
  }

  std::unique_ptr<LlmService> make(LlmOptions o) {
    ModelSpec s;
    s.name = "tiny";
    s.backend = "llama";
    s.path = model_path();
    auto llm = LlmService::create(registry_, s, o);
    EXPECT_TRUE(llm.ok()) << llm.status().to_string();
    return llm.ok() ? std::move(*llm) : nullptr;
  }
  static LlmOptions batched(std::size_t slots, std::size_t cache_tokens = 8192) {
    LlmOptions o;
    o.mode = LlmMode::kBatched;
    o.slots = slots;
    o.context = slots * 512;
    o.threads = 2;
    o.prefix_cache_tokens = cache_tokens;
    return o;
  }
  static LlmOptions exclusive(std::size_t instances, std::size_t cache_tokens = 8192) {
    LlmOptions o;
    o.mode = LlmMode::kExclusive;
    o.instances = instances;
    o.context = 512;
    o.threads = 2;
    o.prefix_cache_tokens = cache_tokens;
    return o;
  }
  // The tokens every question() prompt shares, in whole blocks (the
  // system prompt's last token, a space, merges with the next word).
  std::size_t shared_blocks_tokens(LlmService& llm) {
    return *llm.count_tokens(kSystem) / 16 * 16;
  }
  static GenerationRequest greedy(std::string prompt, int max_tokens = 24) {
    GenerationRequest r;
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.temperature = 0;
    r.ignore_eos = true;
    return r;
  }
  static std::string question(int i) {
    return kSystem + "Question " + std::to_string(i) + ": what do you bake on day " +
           std::to_string(i * 7 % 31) + "?";
  }

  // What the model says to each prompt without any cache: the reference.
  std::vector<GenerationResult> reference(const std::vector<std::string>& prompts,
                                         int max_tokens = 24) {
    auto plain = make(batched(1, 0));
    EXPECT_FALSE(plain->prefix_cache_stats().has_value());
    std::vector<GenerationResult> out;
    for (const std::string& p : prompts) {
      auto r = plain->generate(greedy(p, max_tokens));
      EXPECT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_EQ(r->cached_tokens, 0);
      out.push_back(r.ok() ? *r : GenerationResult{});
    }
    return out;
  }

  // Runs `prompts` on `llm` all at once, as a burst of callers.
  static std::vector<Result<GenerationResult>> burst(LlmService& llm,
                                                     const std::vector<std::string>& prompts) {
    std::vector<Result<GenerationResult>> results(prompts.size(), internal_error("not run"));
    std::latch go(static_cast<std::ptrdiff_t>(prompts.size()));
    std::vector<std::jthread> threads;
    for (std::size_t i = 0; i < prompts.size(); ++i) {
      threads.emplace_back([&, i] {
        go.arrive_and_wait();
        results[i] = llm.generate(greedy(prompts[i]));
      });
    }
    threads.clear();
    return results;
  }

  Registry registry_;
};

TEST_F(PrefixReuseTest, ASharedPrefixIsReusedAndGreedyTokensMatchComputingItBatched) {
  std::vector<std::string> prompts;
  for (int i = 0; i < 6; ++i) prompts.push_back(question(i));
  const auto want = reference(prompts);
  auto llm = make(batched(4));
  const auto shared = static_cast<int>(shared_blocks_tokens(*llm));
  ASSERT_GE(shared, 64);
  // One after the other: every prompt after the first finds the prefix.
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    auto r = llm->generate(greedy(prompts[i]));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->tokens, want[i].tokens) << "prompt " << i;
    EXPECT_EQ(r->prompt_tokens, want[i].prompt_tokens);
    if (i == 0) {
      EXPECT_EQ(r->cached_tokens, 0);
    } else {
      // The system prompt's whole blocks, and never the last prompt token.
      EXPECT_GE(r->cached_tokens, shared) << "prompt " << i;
      EXPECT_EQ(r->cached_tokens % 16, 0);
      EXPECT_LT(r->cached_tokens, r->prompt_tokens);
    }
  }
  const PrefixCacheStats s = *llm->prefix_cache_stats();
  int prompt_tokens = 0;
  for (const auto& w : want) prompt_tokens += w.prompt_tokens;
  EXPECT_GE(s.hit_tokens, 5u * shared);
  EXPECT_EQ(s.hit_tokens + s.miss_tokens, static_cast<std::uint64_t>(prompt_tokens));
}

TEST_F(PrefixReuseTest, ABurstComputesTheSharedPrefixOnceAndEveryStreamMatches) {
  std::vector<std::string> prompts;
  for (int i = 0; i < 8; ++i) prompts.push_back(question(100 + i));
  const auto want = reference(prompts);
  auto llm = make(batched(8));
  const auto shared = static_cast<int>(shared_blocks_tokens(*llm));
  const auto got = burst(*llm, prompts);
  int reused = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].ok()) << got[i].status().to_string();
    EXPECT_EQ(got[i]->tokens, want[i].tokens) << "prompt " << i;
    if (got[i]->cached_tokens >= shared) ++reused;
  }
  // All arrived before any prompt was done: the first computes the prefix,
  // the others wait for it and copy it.
  EXPECT_EQ(reused, 7);
  EXPECT_GE(llm->prefix_cache_stats()->hit_tokens, 7u * shared);
}

TEST_F(PrefixReuseTest, ExclusiveContextsShareOneCacheAndMatch) {
  std::vector<std::string> prompts;
  for (int i = 0; i < 6; ++i) prompts.push_back(question(200 + i));
  const auto want = reference(prompts);
  auto llm = make(exclusive(2));
  const auto shared = static_cast<int>(shared_blocks_tokens(*llm));
  auto first = llm->generate(greedy(prompts[0]));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->tokens, want[0].tokens);
  EXPECT_EQ(first->cached_tokens, 0);
  // The rest on both contexts at once: each finds what the first computed.
  std::vector<std::string> rest(prompts.begin() + 1, prompts.end());
  const auto got = burst(*llm, rest);
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].ok()) << got[i].status().to_string();
    EXPECT_EQ(got[i]->tokens, want[i + 1].tokens) << "prompt " << i + 1;
    EXPECT_GE(got[i]->cached_tokens, shared);
  }
}

TEST_F(PrefixReuseTest, CachePromptFalseNeitherReadsNorFillsTheCache) {
  auto llm = make(batched(2));
  GenerationRequest r = greedy(question(1));
  r.cache_prompt = false;
  auto a = llm->generate(r);
  ASSERT_TRUE(a.ok());
  auto b = llm->generate(r);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->cached_tokens, 0);
  EXPECT_EQ(b->cached_tokens, 0);
  EXPECT_EQ(a->tokens, b->tokens);
  PrefixCacheStats s = *llm->prefix_cache_stats();
  EXPECT_EQ(s.tokens, 0u);
  EXPECT_EQ(s.hit_tokens + s.miss_tokens, 0u);
  // The same prompt with the cache: computed, then reused.
  auto c = llm->generate(greedy(question(1)));
  auto d = llm->generate(greedy(question(1)));
  ASSERT_TRUE(c.ok() && d.ok());
  EXPECT_EQ(c->cached_tokens, 0);
  // Every whole block but the one with the last prompt token.
  EXPECT_EQ(d->cached_tokens, (d->prompt_tokens - 1) / 16 * 16);
  EXPECT_EQ(d->tokens, a->tokens);
}

TEST_F(PrefixReuseTest, ASmallCacheEvictsAndNeverServesAnEvictedOrStalePrefix) {
  // Room for 6 blocks, about one system prompt: prompts that share it and
  // prompts that do not push each other's blocks out, so later prompts find
  // their prefix whole, in part, or not at all.
  auto llm = make(batched(2, 96));
  std::vector<std::string> prompts;
  for (int i = 0; i < 4; ++i) {
    prompts.push_back(question(300 + i));
    prompts.push_back("Story " + std::to_string(i) + " begins in a harbour town at dawn, where " +
                      "the fishing boats come back with nets full of silver fish and gulls.");
  }
  const auto want = reference(prompts);
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < prompts.size(); ++i) {
      auto r = llm->generate(greedy(prompts[i]));
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->tokens, want[i].tokens) << "round " << round << " prompt " << i;
      EXPECT_LE(r->cached_tokens, 96);
    }
  }
  const PrefixCacheStats s = *llm->prefix_cache_stats();
  EXPECT_LE(s.tokens, 96u);
  EXPECT_GT(s.evictions, 0u);
  EXPECT_GT(s.hit_tokens, 0u);
}

TEST_F(PrefixReuseTest, AFinishedSequenceCachesItsAnswerForTheNextTurn) {
  auto llm = make(batched(2));
  const std::string turn1 = question(400);
  auto a = llm->generate(greedy(turn1, 48));
  ASSERT_TRUE(a.ok());
  // Prompt and answer (all but the last token, never fed back) in whole
  // blocks: the next turn resends them.
  const auto with_answer = static_cast<std::size_t>(a->prompt_tokens + a->completion_tokens - 1);
  // The cache's writer inserts them a moment after the answer.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (llm->prefix_cache_stats()->tokens < with_answer / 16 * 16 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(llm->prefix_cache_stats()->tokens, with_answer / 16 * 16);
  // The next request resends the conversation and asks more. Its text is
  // tokenized again, so the cache serves the blocks whose tokens come out
  // the same: the first prompt's at least (the generated model's random
  // tokens rarely tokenize back to themselves; a real model's mostly do).
  const std::string turn2 = turn1 + a->text + " And on Sunday?";
  auto b = llm->generate(greedy(turn2));
  ASSERT_TRUE(b.ok());
  EXPECT_GE(b->cached_tokens, (a->prompt_tokens - 1) / 16 * 16);
  const auto want = reference({turn2});
  EXPECT_EQ(b->tokens, want[0].tokens);
}

}  // namespace
}  // namespace modelpool
