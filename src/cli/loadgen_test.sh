#!/usr/bin/env bash
# `modelpool loadgen` against a real llama-server on the tiny model: streamed
# and not, every request succeeds and all tokens are counted; with --kserve
# against `modelpool serve` on a sim model, every infer succeeds, and each
# failed one is listed with what the server said; against a closed port it
# reports a transport error and exits 1.
#
# Usage: loadgen_test.sh MODELPOOL LLAMA_SERVER TINY_MODEL
set -euo pipefail
bin="$1" server="$2" model="$3"
work=$(mktemp -d)
server_pid="" serve_pid=""
cleanup() {
  for pid in $server_pid $serve_pid; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

fail() {
  echo "FAIL: $*"
  exit 1
}

port=$(free_port)
"$server" -m "$model" --host 127.0.0.1 --port "$port" -t 2 -c 2048 --parallel 4 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  if python3 -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1).status != 200)" 2>/dev/null; then
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; fail "llama-server exited"; }
  sleep 0.2
done

# json_field FILE FIELD: one field of a loadgen --json report.
json_field() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

for mode in --stream ""; do
  report="$work/report.json"
  rc=0
  # shellcheck disable=SC2086  # $mode is a flag or nothing
  "$bin" loadgen --url "http://127.0.0.1:$port" --concurrency 4 --requests 8 $mode \
    --max-tokens 8 --ignore-eos --json "$report" || rc=$?
  [[ $rc -eq 0 ]] || fail "loadgen ${mode:-(not streamed)} exited $rc"
  [[ $(json_field "$report" ok) == 8 ]] || fail "${mode:-(not streamed)}: ok is not 8: $(cat "$report")"
  [[ $(json_field "$report" errors) == 0 ]] || fail "${mode:-(not streamed)}: errors: $(cat "$report")"
  [[ $(json_field "$report" completion_tokens) == 64 ]] ||
    fail "${mode:-(not streamed)}: completion_tokens is not 64: $(cat "$report")"
done

# --kserve: KServe v2 infer requests to a sim model of `modelpool serve`.
cat >"$work/sim.toml" <<'EOF'
[server]
access_log = false
[[model]]
name = "sleepy"
backend = "sim"
instances = 2
[model.options]
service_ms = 20
EOF
serve_port=$(free_port)
"$bin" serve --config "$work/sim.toml" --port "$serve_port" >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do
  grep -q ' ready$' "$work/serve.log" && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log"; fail "modelpool serve exited"; }
  sleep 0.1
done
report="$work/kserve.json"
rc=0
"$bin" loadgen --url "http://127.0.0.1:$serve_port" --kserve --model sleepy --concurrency 4 --requests 8 \
  --json "$report" >/dev/null || rc=$?
[[ $rc -eq 0 && $(json_field "$report" ok) == 8 && $(json_field "$report" failures) == "[]" ]] ||
  fail "--kserve: exit $rc, not 8 ok: $(cat "$report")"
rc=0
"$bin" loadgen --url "http://127.0.0.1:$serve_port" --kserve --model absent --requests 2 \
  --json "$report" >/dev/null || rc=$?
[[ $rc -eq 1 ]] || fail "--kserve to an absent model: exit $rc, expected 1"
python3 - "$report" <<'EOF' || fail "--kserve to an absent model: $(cat "$report")"
import json, sys
failures = json.load(open(sys.argv[1]))["failures"]
assert [f["request"] for f in failures] == [0, 1], failures
assert all(f["kind"] == "http 404" and "model 'absent'" in f["message"] for f in failures), failures
EOF

closed=$(free_port)
rc=0
out=$("$bin" loadgen --url "http://127.0.0.1:$closed" --concurrency 2 --requests 3 2>&1) || rc=$?
[[ $rc -eq 1 ]] || fail "closed port: exit $rc, expected 1: $out"
grep -q "first error *transport: connect" <<<"$out" || fail "closed port: no transport error: $out"

# Bad arguments: one line naming the option, exit 2.
expect_bad() {  # expect_bad OPTION ARGS...
  local option="$1" out rc=0
  shift
  out=$("$bin" loadgen "$@" 2>&1) || rc=$?
  [[ $rc -eq 2 && $(wc -l <<<"$out") -eq 1 && $out == *"$option"* ]] ||
    fail "loadgen $*: exit $rc, expected 2 and one line naming $option: $out"
}
expect_bad --url --url https://127.0.0.1:1
expect_bad --url --url http://127.0.0.1:0
expect_bad --url --url http://:80
expect_bad --concurrency --url http://h --concurrency 0
expect_bad --requests --url http://h --requests 0
expect_bad --kserve --url http://h --kserve --stream

echo "loadgen: all checks passed"
