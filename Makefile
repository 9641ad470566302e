# The README's commands. Each sets up what it needs (scripts/setup-deps is
# idempotent and fast when everything is installed), builds, and runs.
.PHONY: serve demo test bench soak build build-cpu build-cuda setup asan tsan sanitize fuzz format clean

JOBS ?= $(shell nproc)

# MODELPOOL_CUDA=1 makes `build` and `serve` use llama.cpp's CUDA flavour
# (GPU offload: README, "With a GPU"), built in build-cuda/ from its own
# llama.cpp cache. Every other target, test included, builds and runs the
# CPU flavour in build/ whatever it says, and the scripts see it only where
# the recipe passes it on.
unexport MODELPOOL_CUDA
ifeq ($(MODELPOOL_CUDA),1)
FLAVOUR := cuda
else
FLAVOUR := cpu
endif

setup:
	@scripts/setup-deps

build: build-$(FLAVOUR)

build-cpu: setup
	@cmake --preset default >/dev/null
	@cmake --build --preset default -j $(JOBS)

# MODELPOOL_CUDA_ARCHS (default 90: H100, H200) picks the GPUs it compiles for.
build-cuda:
	@MODELPOOL_CUDA=1 scripts/setup-deps
	@cmake --preset cuda >/dev/null
	@cmake --build --preset cuda -j $(JOBS)

# The server with its embedded default models (a generated small LLM named
# "default" and an "echo" model) on http://127.0.0.1:8080; ARGS are passed on:
#   make serve ARGS="--port 9000 --config examples/models.toml"
ARGS ?=
serve: build
	$(if $(filter cuda,$(FLAVOUR)),build-cuda,build)/bin/modelpool serve $(ARGS)

# The pool-size benchmark: how large should the pool be?
demo: build-cpu
	build/bin/modelpool bench --backend sim --callers 30 --pool-sizes 1,2,4,8,30 \
	  --service-ms 100 --service sleep --weights-mb 256 --instance-mb 16 \
	  --share-weights both --json build/pool-size.json --charts build/charts

test: build-cpu
	ctest --preset default

bench: build-cpu
	@scripts/setup-deps --bench
	bench/run-pool-benchmarks
	bench/llm-vs-engine
	bench/llm-fair-prefill
	bench/llm-memory
	bench/server-vs-llama-server
	bench/server-overhead
	bench/transport
	bench/worker-faults
	bench/process-vs-thread
	bench/worker-memory
	bench/speech-accuracy
	bench/speech-accuracy --voice rms
	bench/speech-phone-lines
	bench/speech-registry
	bench/speech-tts
	bench/sizing-advisor
	bench/dashboard-overhead
	bench/replicas

# Ten minutes at 64 clients of mixed traffic (LLM streams, dropped streams,
# echo, speech both ways, a model unloaded and loaded again): PSS drift,
# errors, file descriptors and threads, with a chart (docs/benchmarks.md).
# SOAK_ARGS are passed on: make soak SOAK_ARGS="--duration 120 --warmup 30"
SOAK_ARGS ?=
soak: build-cpu
	bench/soak --check $(SOAK_ARGS)

asan: setup
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	ctest --preset asan

tsan: setup
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan

sanitize: asan tsan

# Every parser of untrusted input under libFuzzer with ASan and UBSan
# (fuzz/run; clang, in build-fuzz/): FUZZ_SECONDS (600) each, two at a time,
# then a table of what each did. Fails on any crash, hang or leak.
# FUZZ_TARGETS="http wire" runs some. `make test` replays the corpora.
fuzz:
	@fuzz/run

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf build build-asan build-tsan build-cuda build-fuzz
