#!/usr/bin/env bash
# deploy/'s files, checked offline by real validators (no cluster, no
# registry):
# - deploy/haproxy.cfg by `haproxy -c` (Debian's HAProxy 2.6);
# - deploy/nginx.conf by `nginx -t` (Debian's nginx);
# - deploy/k8s/*.yaml against the Kubernetes API's JSON schemas and the
#   Prometheus Operator's (ServiceMonitor), with no unknown field, and
#   against each other (tests/deploy-check/k8s.mjs);
# - the Prometheus adapter's query, filled in as the adapter fills it, by
#   `promtool check rules`; and the series it reads, in a real server's
#   /metrics, by `promtool check metrics`;
# - deploy/Dockerfile by dockerfile-utils and tests/deploy-check/dockerfile.mjs,
#   its runtime packages against the libraries MODELPOOL links.
#
# Usage: configs_test.sh MODELPOOL
set -euo pipefail
bin="$1"
export PATH="$PATH:/usr/sbin:/sbin"  # haproxy and nginx, for a user whose PATH has no sbin
root="$(cd "$(dirname "$0")/.." && pwd)"
check="$root/tests/deploy-check"
work=$(mktemp -d)
serve_pid=""
cleanup() {
  if [[ -n $serve_pid ]]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}
for tool in haproxy nginx promtool node; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/setup-deps installs it)"
done
[[ -d $check/node_modules ]] || fail "$check/node_modules is missing (scripts/setup-deps runs npm ci there)"

out=$(haproxy -c -f "$root/deploy/haproxy.cfg" 2>&1) || fail "haproxy -c deploy/haproxy.cfg: $out"
echo "ok:   haproxy -c deploy/haproxy.cfg: $out"

# nginx -t opens the log files the configuration names, /var/log/nginx/ by
# default: only root may.
mkdir -p "$work/nginx/logs"
if out=$(nginx -t -q -e stderr -p "$work/nginx" -c "$root/deploy/nginx.conf" -g "pid $work/nginx/nginx.pid;" 2>&1); then
  echo "ok:   nginx -t deploy/nginx.conf"
elif [[ $(id -u) -ne 0 && $out == *"Permission denied"* ]]; then
  echo "skip: nginx -t deploy/nginx.conf needs root (it opens /var/log/nginx): $out"
else
  fail "nginx -t deploy/nginx.conf: $out"
fi

node "$check/k8s.mjs" "$root"/deploy/k8s/*.yaml

# The adapter's metricsQuery as the adapter sends it to Prometheus, for the
# HPA's question "modelpool_queue_length of these pods".
query=$(python3 - "$root/deploy/k8s/prometheus-adapter.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
q = re.search(r"metricsQuery: '(.*)'", text).group(1)
q = q.replace("<<.Series>>", "modelpool_queue_length")
q = q.replace("<<.LabelMatchers>>", 'namespace="default",pod=~"modelpool-7d4b9c-abcde|modelpool-7d4b9c-fghij"')
print(q.replace("<<.GroupBy>>", "pod"))
PY
)
cat >"$work/rules.yaml" <<RULES
groups:
  - name: prometheus-adapter
    rules:
      - record: modelpool:queue_length:adapter
        expr: '$query'
RULES
out=$(promtool check rules "$work/rules.yaml" 2>&1) || fail "promtool check rules: the adapter's query: $query: $out"
echo "ok:   promtool parses the adapter's query: $query"

# The series the adapter reads, in a real server's /metrics (a sim model).
cat >"$work/models.toml" <<'TOML'
[server]
access_log = false
[[model]]
name = "echo"
backend = "sim"
TOML
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --config "$work/models.toml" --port "$port" >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do
  grep -q ' ready$' "$work/serve.log" && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log"; fail "modelpool serve exited"; }
  sleep 0.1
done
python3 -c "import urllib.request, sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$port/metrics').read().decode())" >"$work/metrics"
grep -q '^modelpool_queue_length{model="echo"} 0$' "$work/metrics" || fail "/metrics has no modelpool_queue_length of model echo"
out=$(promtool check metrics <"$work/metrics" 2>&1) || fail "promtool check metrics: $out"
echo "ok:   /metrics has modelpool_queue_length{model=...}, and promtool finds nothing wrong in it"

# The Debian packages of the libraries the binary links, but those that
# debian:12-slim has already. The Dockerfile builds a release binary: a
# sanitizer build links its runtime (and, unlinked by --as-needed, more), so
# its list says nothing of the image's.
needed=$(readelf -d "$bin" | awk '/NEEDED/ { gsub(/[][]/, "", $5); print $5 }')
if grep -qE '^lib(a|t|ub)san\.so' <<<"$needed"; then
  echo "deploy configs: all checks passed; the Dockerfile's packages skipped (a sanitizer build: they are checked against a release one)"
  exit 0
fi
packages=()
ldconfig -p >"$work/ldconfig"
while read -r soname; do
  path=$(awk -v l="$soname" '$1 == l { print $NF; exit }' "$work/ldconfig")
  [[ -n $path ]] || fail "ldconfig does not know $soname, which $bin links"
  package=""
  real=$(readlink -f "$path")
  # dpkg knows a file by the path its package installed it at: /lib or /usr/lib.
  for candidate in "$path" "$real" "${real#/usr}" "/usr$real"; do
    package=$(dpkg -S "$candidate" 2>/dev/null | sed -n '1s/:.*//p') || true
    [[ -n $package ]] && break
  done
  [[ -n $package ]] || fail "no Debian package has $path"
  case $package in libc6 | libstdc++6 | libgcc-s1) ;; *) packages+=("$package") ;; esac
done <<<"$needed"
node "$check/dockerfile.mjs" "$root/deploy/Dockerfile" $(printf '%s\n' "${packages[@]}" | sort -u)

echo "deploy configs: all checks passed"
