#!/usr/bin/env bash
# The README's commands, run as pasted: its curl examples against the
# embedded default server (`make serve` runs the same binary), and the
# example config of `make serve ARGS=...`.
#   readme_test.sh MODELPOOL
set -uo pipefail
MP="$1"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d)"
pid=""
fails=0
trap '[[ -n $pid ]] && kill -9 $pid 2>/dev/null; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# start ARGS...: the server on a free port; sets $pid and $port.
start() {
  "$MP" serve --port 0 "$@" 2>"$WORK/log" &
  pid=$!
  for _ in $(seq 1200); do
    grep -q " ready$" "$WORK/log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/log" | head -1)
  grep -q " ready$" "$WORK/log" || { cat "$WORK/log"; fail "server not ready: $*"; exit 1; }
}

start
# Every fenced block of the README that is a curl command.
python3 - "$ROOT/README.md" >"$WORK/commands" <<'PY'
import re, sys
for block in re.findall(r"```\n(.*?)```", open(sys.argv[1]).read(), re.S):
    if block.startswith("curl "):
        print(block.strip())
PY
[[ $(wc -l <"$WORK/commands") -ge 4 ]] || fail "README: expected at least 4 curl commands, found $(wc -l <"$WORK/commands")"
while IFS= read -r cmd; do
  out=$(bash -c "${cmd//127.0.0.1:8080/127.0.0.1:$port}" 2>&1)
  [[ $? -eq 0 && -n $out && $out != *'"error"'* ]] || fail "README command failed: $cmd -> ${out:0:300}"
done <"$WORK/commands"
kill -TERM "$pid"; wait "$pid"; pid=""

grep -q 'make serve ARGS="--port 9000 --config examples/models.toml"' "$ROOT/README.md" || fail "README: the ARGS example changed"
start --config "$ROOT/examples/models.toml"
out=$(curl -s "http://127.0.0.1:$port/v2/models/slow/infer" -d '{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}')
[[ $out == *'"outputs"'* ]] || fail "examples/models.toml: slow infer: $out"
kill -TERM "$pid"; wait "$pid"; pid=""

((fails == 0)) || exit 1
echo "readme: all checks passed"
