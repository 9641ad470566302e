#!/usr/bin/env bash
# Every subcommand has --help; a bad argument gets one line naming it and
# exit code 2, never a crash or a silent default.
set -uo pipefail
bin="$1"
fails=0

expect() {  # expect CODE PATTERN -- ARGS...
  local code="$1" pattern="$2"
  shift 3
  local out rc
  out=$("$bin" "$@" 2>&1)
  rc=$?
  if [[ $rc -ne $code ]]; then
    echo "FAIL: modelpool $* exited $rc, expected $code: $out"
    fails=$((fails + 1))
  elif ! grep -q -e "$pattern" <<<"$out"; then
    echo "FAIL: modelpool $* printed no '$pattern': $out"
    fails=$((fails + 1))
  elif [[ $code -eq 2 && $(wc -l <<<"$out") -ne 1 ]]; then
    echo "FAIL: modelpool $* printed more than one line: $out"
    fails=$((fails + 1))
  fi
}

expect 0 "Subcommands" -- --help
expect 0 "--pool-sizes" -- bench --help
expect 2 "subcommand" --
expect 2 "--frobnicate" -- bench --frobnicate
expect 2 "--pool-sizes" -- bench --pool-sizes 0
expect 2 "--pool-sizes" -- bench --pool-sizes 1,x
expect 2 "--callers" -- bench --callers 0
expect 2 "--service-ms" -- bench --service-ms -5
expect 2 "--service" -- bench --service gpu
expect 2 "--share-weights" -- bench --share-weights maybe
expect 2 "--json" -- bench --json /nonexistent-dir/out.json
expect 2 "--backend" -- bench --backend tensorflow
expect 0 "sim: " -- backends
expect 0 "fault_step_delay_ms" -- backends
expect 0 "service  *string  *sleep | cpu" -- backends
expect 0 "process: each instance in a supervised worker process" -- backends
expect 2 "--frobnicate" -- backends --frobnicate

# `backends --markdown` prints the README's option tables, word for word.
root="$(cd "$(dirname "$0")/../.." && pwd)"
tables=$("$bin" backends --markdown)
if [[ $tables != *"<!-- config-keys: sim options -->"* ]]; then
  echo "FAIL: modelpool backends --markdown printed no sim table: $tables"
  fails=$((fails + 1))
fi
while IFS= read -r line; do
  if [[ -n $line ]] && ! grep -qxF -e "$line" "$root/README.md"; then
    echo "FAIL: README.md lacks this line of 'modelpool backends --markdown': $line"
    fails=$((fails + 1))
  fi
done <<<"$tables"

if [[ $fails -ne 0 ]]; then exit 1; fi
echo "cli arguments: all checks passed"
