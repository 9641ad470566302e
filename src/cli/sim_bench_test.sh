#!/usr/bin/env bash
# A small pool-size benchmark runs end to end and writes the documented JSON.
set -euo pipefail
bin="$1"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$bin" bench --backend sim --callers 6 --pool-sizes 1,3 --service-ms 20 --weights-mb 8 \
  --instance-mb 1 --share-weights both --json "$out" >/dev/null
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
