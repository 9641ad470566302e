#!/usr/bin/env bash
# A small pool-size benchmark runs end to end and writes the documented JSON
# and, with --charts, its charts with every series.
set -euo pipefail
bin="$1"
out=$(mktemp)
charts=$(mktemp -d)
trap 'rm -rf "$out" "$charts"' EXIT
"$bin" bench --backend sim --callers 6 --pool-sizes 1,3 --service-ms 20 --weights-mb 8 \
  --instance-mb 1 --share-weights both --json "$out" --charts "$charts/new/dir" >"$charts/stdout"
for field in pool_size makespan_s ideal_makespan_s throughput_rps wait_avg_s wait_max_s \
    latency_p50_s latency_p99_s pss_peak_mb; do
  n=$(grep -o "\"$field\":" "$out" | wc -l)
  if [[ $n -ne 4 ]]; then
    echo "FAIL: field $field appears $n times, expected 4 (2 sizes x 2 sharing modes)"
    cat "$out"
    exit 1
  fi
done
grep -q '"results":\[' "$out" || { echo "FAIL: no results array"; exit 1; }
grep -q '"errors":0' "$out" || { echo "FAIL: a request failed"; cat "$out"; exit 1; }
echo "sim bench: JSON has every field"

# Each chart: printed, an SVG document, and holding its series' titles.
check_chart() {
  local svg="$charts/new/dir/$1.svg"
  shift
  grep -qF "chart written to $svg" "$charts/stdout" || { echo "FAIL: $svg not reported"; cat "$charts/stdout"; exit 1; }
  [[ -s "$svg" ]] || { echo "FAIL: $svg missing or empty"; exit 1; }
  head -c 200 "$svg" | grep -q '<svg\|<?xml' || { echo "FAIL: $svg is not SVG"; exit 1; }
  grep -q '</svg>' "$svg" || { echo "FAIL: $svg is cut short"; exit 1; }
  for title in "$@"; do
    grep -qF "$title" "$svg" || { echo "FAIL: $svg lacks the series '$title'"; exit 1; }
  done
}
check_chart memory-vs-makespan "measured, shared weights" "measured, copied weights" \
  "theory, a copy each: ram = pool × model" "theory, shared weights" "pool 1" "pool 3"
check_chart latency "latency p50, shared weights" "latency p99, copied weights" \
  "wait avg, shared weights" "theory: wait avg" "theory: makespan"
echo "sim bench: charts have every series"

# A directory that cannot be made is refused before anything runs.
if "$bin" bench --backend sim --callers 1 --pool-sizes 1 --charts /proc/nonexistent/charts \
    >/dev/null 2>"$charts/err"; then
  echo "FAIL: --charts accepted a directory that cannot be created"
  exit 1
fi
grep -q "/proc/nonexistent/charts" "$charts/err" || { echo "FAIL: the error does not name the directory"; cat "$charts/err"; exit 1; }
echo "sim bench: an unwritable --charts directory is an error"
