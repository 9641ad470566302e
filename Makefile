# The README's commands. Each sets up what it needs (scripts/setup-deps is
# idempotent and fast when everything is installed), builds, and runs.
.PHONY: serve demo test bench build setup asan tsan sanitize format clean

JOBS ?= $(shell nproc)

setup:
	@scripts/setup-deps

build: setup
	@cmake --preset default >/dev/null
	@cmake --build --preset default -j $(JOBS)

# The server with its embedded default models (a generated small LLM named
# "default" and an "echo" model) on http://127.0.0.1:8080; ARGS are passed on:
#   make serve ARGS="--port 9000 --config examples/models.toml"
ARGS ?=
serve: build
	build/bin/modelpool serve $(ARGS)

# The pool-size benchmark: how large should the pool be?
demo: build
	build/bin/modelpool bench --backend sim --callers 30 --pool-sizes 1,2,4,8,30 \
	  --service-ms 100 --service sleep --weights-mb 256 --instance-mb 16 \
	  --share-weights both --json build/pool-size.json --charts build/charts

test: build
	ctest --preset default

bench: build
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

asan: setup
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	ctest --preset asan

tsan: setup
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan

sanitize: asan tsan

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf build build-asan build-tsan
