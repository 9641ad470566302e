# Shared by the benchmark scripts: paths, the generated models, medians.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MP="$ROOT/build/bin/modelpool"
CACHE="${MODELPOOL_CACHE:-$HOME/.cache/modelpool}"
LLAMA_BIN="$CACHE/llama.cpp-3.22.1/install/bin"
OUT="$ROOT/build/bench"
mkdir -p "$OUT"

# model PRESET: path of the generated model, made on first use.
model() {
  local path="$CACHE/models/$1.gguf"
  if [[ ! -f $path ]]; then
    mkdir -p "$CACHE/models"
    "$MP" mkmodel --preset "$1" --out "$path.tmp" >&2 && mv "$path.tmp" "$path"
  fi
  echo "$path"
}

# median of the numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# json_field FILE INDEX FIELD: a number from results[INDEX] of our JSON.
json_field() {
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][int(sys.argv[2])][sys.argv[3]])" "$@"
}

machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
}
