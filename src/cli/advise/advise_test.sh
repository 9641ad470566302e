#!/usr/bin/env bash
# `modelpool advise` end to end on sim models: the advice, its [[model]]
# block (read back by a second run), the verify table, JSON and charts;
# Poisson arrivals; and every bad argument named. Timing is not judged here
# (that is bench/advise's job): only that each figure is there.
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; [[ -f $dir/out ]] && cat "$dir/out"; exit 1; }

cat >"$dir/sleep.toml" <<'TOML'
[[model]]
name = "lines"
backend = "sim"
[model.options]
weights_mb = 8
instance_mb = 2
service_ms = 100
TOML

# A sleep-bound model and 4 callers: every caller gets its own instance.
rc=0
"$bin" advise --config "$dir/sleep.toml" --concurrency 4 --quick --verify --toml "$dir/advice.toml" \
  --json "$dir/advice.json" --charts "$dir/charts" >"$dir/out" 2>"$dir/err" || rc=$?
[[ $rc -eq 0 || $rc -eq 3 ]] || { cat "$dir/err"; fail "advise exited $rc"; }
grep -q '^recommended: exclusive, 4 instances' "$dir/out" || fail "not 4 instances"
grep -q 'why:' "$dir/out" || fail "no reasons"
grep -q 'the rule of thumb ceil(4/7) = 1' "$dir/out" || fail "no rule-of-thumb comparison"
for metric in throughput p50 p99 memory; do
  grep -qE "^  $metric +\|.*\|.*\| +[+-][0-9.]+% \| " "$dir/out" || fail "verify table lacks $metric"
done
grep -qE 'every judged prediction within 10%|the prediction MISSED' "$dir/out" || fail "no verdict"
grep -q '^instances = 4$' "$dir/advice.toml" || fail "TOML lacks instances = 4"
for f in '"recommended":' '"verified":' '"options":' '"reasons":' '"levels":' '"toml":'; do
  grep -qF "$f" "$dir/advice.json" || fail "JSON lacks $f"
done
for c in advise-tradeoff advise-scaling advise-latency; do
  grep -q '</svg>' "$dir/charts/$c.svg" || fail "chart $c.svg missing or cut short"
done
grep -qF 'naive theory: ram = pool x model' "$dir/charts/advise-tradeoff.svg" || fail "no theory series"
echo "advise: burst advice, TOML, verify table, JSON and charts"

# The written block is a config: advise reads it back.
"$bin" advise --config "$dir/advice.toml" --concurrency 2 --time-limit 5 >"$dir/out" 2>"$dir/err" ||
  { cat "$dir/err"; fail "the written TOML was not accepted"; }
echo "advise: its [[model]] block reads back"

# Poisson arrivals, verified with a few arrivals.
rc=0
"$bin" advise --config "$dir/sleep.toml" --concurrency 8 --arrival poisson --rate 20 --slo-p99 0.5 \
  --quick --verify --verify-requests 40 >"$dir/out" 2>"$dir/err" || rc=$?
[[ $rc -eq 0 || $rc -eq 3 ]] || { cat "$dir/err"; fail "poisson advise exited $rc"; }
grep -q 'Poisson' "$dir/out" || fail "poisson not stated"
grep -q 'meet the p99 goal of 500 ms' "$dir/out" || fail "the p99 goal is not discussed"
echo "advise: Poisson arrivals with a p99 goal"

# Bad arguments: named, exit 2; a model that is not there: exit 1.
expect() {
  local want_rc=$1 want=$2
  shift 2
  rc=0
  "$bin" advise "$@" >"$dir/out" 2>&1 || rc=$?
  [[ $rc -eq $want_rc ]] || fail "'$*' exited $rc, expected $want_rc"
  grep -qF -- "$want" "$dir/out" || fail "'$*' did not say '$want'"
}
expect 2 "--rate" --config "$dir/sleep.toml" --concurrency 4 --arrival poisson
expect 2 "--rate" --config "$dir/sleep.toml" --concurrency 4 --rate 3
expect 2 "--memory-budget: expected a size such as 4GB" --config "$dir/sleep.toml" --concurrency 4 --memory-budget lots
expect 2 "--concurrency" --config "$dir/sleep.toml"
expect 1 "has no model 'nope'" --config "$dir/sleep.toml" --model nope --concurrency 4
echo "advise: bad arguments are named"
