#!/usr/bin/env bash
# The layers keep to their order: core <- backends <- server <- CLI.
#
#   core     (include/modelpool, src/core): no engine, server, CLI, config
#            format or HTTP library; its library defines every modelpool
#            symbol it uses and needs nothing from llama.cpp, toml++ or Boost.
#   backends (src/backends): no server or CLI code.
#   server   (src/server): names no engine (no backend header, no engine
#            symbol in its library); engines come through the catalog. Its
#            dashboard page (src/server/dashboard/) names none either.
#   process  (src/process, the process executor): core only, like a
#            backend; no engine, server or CLI code. The server does not
#            include it either: executors come through the catalog too.
#   audio    (src/audio, codecs for the speech engines): core and its codec
#            libraries only. The server neither includes nor links it: audio
#            is decoded and encoded by a model's instances (in a worker, in
#            process isolation), never on the server's threads.
# Tests (*_test.cc) and fuzz targets (*_fuzz.cc) are programs of their own,
# each with the engines it chooses: they are in no library and not checked.
#
# Usage: layering_test.sh SOURCE_DIR LIBMODELPOOL_CORE.a LIBMODELPOOL_SERVER.a
set -u
src=$1 core_lib=$2 server_lib=$3
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Lines of `files` that include a header matching `pattern`.
includes_matching() {
  local pattern=$1; shift
  grep -HnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pattern)" "$@" 2>/dev/null
}

# Symbols an archive uses but does not define (demangled).
external_symbols() {
  comm -23 <(nm -C "$1" | awk '$1 == "U" { $1 = ""; print substr($0, 2) }' | sort -u) \
           <(nm -C --defined-only "$1" | awk 'NF >= 3 { $1 = ""; $2 = ""; print substr($0, 3) }' | sort -u)
}

check_core_includes() {
  includes_matching 'backends/|server/|cli/|llama|ggml|toml|boost/|CLI/|spdlog' "$@"
}
check_backend_includes() { includes_matching 'server/|cli/' "$@"; }
check_process_includes() { includes_matching 'backends/|server/|cli/|llama|ggml|toml|boost/|CLI/|spdlog' "$@"; }
check_audio_includes() { includes_matching 'backends/|server/|cli/|process/|llama|ggml|toml|boost/|CLI/|spdlog' "$@"; }
check_server_includes() { includes_matching 'backends/|process/|audio/|llama|ggml|sndfile|samplerate|pocketsphinx|flite|espeak' "$@"; }
# An engine named in server code: its C++ namespace or class, or its name as
# a string (a test's config text may name one; the tests are not the server).
check_server_names() {
  grep -HnE 'llama::|SimBackend|LlamaBackend|LlmService|"(llama|sim|stt|tts|flite|espeak-ng)"' "$@" 2>/dev/null | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' 
}
# The dashboard's page (src/server/dashboard/, embedded in the server): an
# engine's name as a string in either quote, or as a word in its text.
check_page_names() {
  grep -HnEi "['\"](llama|sim|stt|tts|flite|espeak-ng)['\"]|\b(llama\.cpp|pocketsphinx|flite|espeak)\b" "$@" 2>/dev/null
}

# The checks must be able to fail: each finds a planted violation.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include "backends/llama/llm_service.h"\n' > "$tmp/core.cc"
printf '#include "server/api.h"\n' > "$tmp/backend.cc"
printf '#include "backends/sim/sim_backend.h"\n' > "$tmp/process.cc"
printf 'if (spec.backend == "llama") {}\n' > "$tmp/server.cc"
printf '#include "server/api.h"\n' > "$tmp/audio.cc"
printf "if (m.backend === 'llama') {}\n" > "$tmp/page.js"
check_core_includes "$tmp/core.cc" > /dev/null || fail "the core include check misses a planted backend include"
check_backend_includes "$tmp/backend.cc" > /dev/null || fail "the backend include check misses a planted server include"
check_server_names "$tmp/server.cc" > /dev/null || fail "the server name check misses a planted engine name"
check_process_includes "$tmp/process.cc" > /dev/null || fail "the process include check misses a planted backend include"
check_audio_includes "$tmp/audio.cc" > /dev/null || fail "the audio include check misses a planted server include"
check_page_names "$tmp/page.js" > /dev/null || fail "the dashboard name check misses a planted engine name"

core_files=$(find "$src/include/modelpool" "$src/src/core" -name '*.h' -o -name '*.cc' | grep -v '_test\.cc$' | grep -v '_benchmark\.cc$' | grep -v '_fuzz\.cc$')
backend_files=$(find "$src/src/backends" -name '*.h' -o -name '*.cc')
process_files=$(find "$src/src/process" -name '*.h' -o -name '*.cc' | grep -v '_test\.cc$' | grep -v '_benchmark\.cc$' | grep -v '_fuzz\.cc$')
audio_files=$(find "$src/src/audio" -name '*.h' -o -name '*.cc' | grep -v '_test\.cc$' | grep -v '_fuzz\.cc$')
server_files=$(find "$src/src/server" -name '*.h' -o -name '*.cc' | grep -v '_test\.cc$' | grep -v '_fuzz\.cc$')
page_files=$(find "$src/src/server/dashboard" -type f)

if out=$(check_core_includes $core_files); then fail "core includes a higher layer or a library:"; echo "$out"; fi
if out=$(check_backend_includes $backend_files); then fail "a backend includes server or CLI code:"; echo "$out"; fi
if out=$(check_process_includes $process_files); then fail "the process executor includes an engine, the server or a library:"; echo "$out"; fi
if out=$(check_audio_includes $audio_files); then fail "the audio library includes an engine, the server or the CLI:"; echo "$out"; fi
if out=$(check_server_includes $server_files); then fail "the server includes an engine:"; echo "$out"; fi
if out=$(check_server_names $server_files); then fail "the server names an engine:"; echo "$out"; fi
if out=$(check_page_names $page_files); then fail "the dashboard names an engine:"; echo "$out"; fi

core_external=$(external_symbols "$core_lib")
if out=$(grep -E '^(modelpool::|llama_|ggml_|toml::|boost::|spdlog::|CLI::)' <<< "$core_external"); then
  fail "libmodelpool_core needs symbols from outside core:"; echo "$out"
fi
server_external=$(external_symbols "$server_lib")
if out=$(grep -E '^(llama_|ggml_|modelpool::llama::|modelpool::SimBackend|modelpool::SimConfig|modelpool::cli::|modelpool::audio::|sf_|src_|ps_|flite_|espeak)' <<< "$server_external"); then
  fail "libmodelpool_server uses an engine's or the CLI's symbols:"; echo "$out"
fi

[ "$failures" -eq 0 ] && echo "layering: ok (core, backends, process, audio, server, dashboard)"
exit $((failures > 0))
