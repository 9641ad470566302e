#!/usr/bin/env bash
# End to end: the real `modelpool serve` on an ephemeral port, driven by curl,
# the official OpenAI SDK and promtool.
#   server_test.sh MODELPOOL TINY_MODEL
set -uo pipefail
MP="$1"
MODEL="$2"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d)"
KEY="test-key-123"
fails=0
pid=""
cleanup() {
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# req METHOD PATH [BODY] [extra curl args...]: prints "STATUS BODY" and leaves headers in $WORK/h
req() {
  local method="$1" path="$2" body="${3:-}"
  shift 3 2>/dev/null || shift $#
  curl -s -D "$WORK/h" -o "$WORK/b" -w "%{http_code}" -X "$method" -H "Authorization: Bearer $KEY" \
    -H "Content-Type: application/json" ${body:+--data-binary "$body"} "$@" "$URL$path"
  echo " $(cat "$WORK/b")"
}
expect() {  # expect NAME STATUS PATTERN -- METHOD PATH [BODY]
  local name="$1" status="$2" pattern="$3"
  shift 4
  local out
  out=$(req "$@")
  [[ ${out%% *} == "$status" ]] || { fail "$name: status ${out%% *}, expected $status: ${out:0:300}"; return; }
  grep -q -e "$pattern" <<<"$out" || fail "$name: no '$pattern' in: ${out:0:300}"
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

cat >"$WORK/models.toml" <<TOML
[server]
max_body_bytes = 65536
drain_timeout_ms = 5000
stall_timeout_ms = 600

[[model]]
name = "default"
backend = "llama"
path = "$MODEL"
mode = "batched"
slots = 2
context = 2048
threads = 2
max_queue = 64
# 640 streams through 2 slots on a loaded 2-core machine may queue a while
timeout_ms = 180000

# every decoding step of this one takes 1.5 s: a wedged loop
[[model]]
name = "wedged"
backend = "llama"
path = "$MODEL"
slots = 1
context = 256
threads = 1
[model.options]
fault_step_delay_ms = 1500

[[model]]
name = "echo"
backend = "sim"
instances = 2

[[model]]
name = "slow"
backend = "sim"
instances = 1
max_queue = 1
timeout_ms = 400
[model.options]
service_ms = 1500

# runs 1 s, well within its deadline: what a drain lets finish
[[model]]
name = "drainer"
backend = "sim"
[model.options]
service_ms = 1000
TOML

# ---- config errors are refused at start, naming file, line and key
printf '[[model]]\nname = "x"\nbackend = "sim"\nslots = -3\n' >"$WORK/bad.toml"
out=$("$MP" serve --config "$WORK/bad.toml" --port 0 2>&1); rc=$?
[[ $rc -eq 2 ]] || fail "bad config: exit $rc, expected 2"
grep -q "bad.toml:4" <<<"$out" && grep -q "slots" <<<"$out" || fail "bad config message: $out"

# ---- start
"$MP" serve --config "$WORK/models.toml" --port 0 --api-key "$KEY" 2>"$WORK/log" &
pid=$!
for _ in $(seq 200); do
  kill -0 "$pid" 2>/dev/null || { cat "$WORK/log"; echo "FAIL: the server exited at start"; exit 1; }
  port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/log")
  [[ -n $port ]] && break
  sleep 0.05
done
URL="http://127.0.0.1:$port"
for _ in $(seq 600); do
  kill -0 "$pid" 2>/dev/null || { cat "$WORK/log"; echo "FAIL: the server exited at start"; exit 1; }
  [[ $(curl -s -o /dev/null -w "%{http_code}" "$URL/v2/health/ready") == 200 ]] && break
  sleep 0.1
done
[[ $(curl -s -o /dev/null -w "%{http_code}" "$URL/v2/health/ready") == 200 ]] || { cat "$WORK/log"; echo "FAIL: never ready"; exit 1; }

# ---- KServe server and model metadata, health
expect "v2" 200 '"name":"modelpool"' -- GET /v2
expect "live" 200 '"live":true' -- GET /v2/health/live
expect "model metadata" 200 '"platform":"modelpool-llama"' -- GET /v2/models/default
expect "model ready" 200 '"ready":true' -- GET /v2/models/echo/ready
expect "unknown model ready" 404 'unknown model' -- GET /v2/models/nope/ready

# ---- authentication
out=$(curl -s -w " %{http_code}" "$URL/v1/models"); [[ $out == *" 401" && $out == *"missing API key"* ]] || fail "no key: $out"
out=$(curl -s -w " %{http_code}" -H "Authorization: Bearer wrong" "$URL/v1/models"); [[ $out == *" 401" && $out == *"wrong API key"* ]] || fail "wrong key: $out"

# ---- OpenAI
expect "models" 200 '"id":"default"' -- GET /v1/models
expect "completion" 200 '"finish_reason":"length"' -- POST /v1/completions '{"model":"default","prompt":"Hello","max_tokens":5,"temperature":0}'
grep -q '"completion_tokens":5' "$WORK/b" || fail "completion usage: $(cat "$WORK/b")"
expect "chat" 200 '"role":"assistant"' -- POST /v1/chat/completions '{"model":"default","messages":[{"role":"user","content":"Hi"}],"max_tokens":4}'
out=$(curl -sN -H "Authorization: Bearer $KEY" -d '{"model":"default","prompt":"Hello","max_tokens":6,"stream":true,"temperature":0}' "$URL/v1/completions")
[[ $(grep -c '^data: {' <<<"$out") -ge 2 ]] || fail "stream: too few events: $out"
[[ $(tail -n 1 <<<"$out") == "data: [DONE]" ]] || fail "stream does not end with [DONE]: $out"
expect "stop string" 200 '"finish_reason":"stop"' -- POST /v1/completions '{"model":"default","prompt":"Hello","max_tokens":40,"temperature":0,"stop":["e"]}'

# ---- OpenAI compatibility: what is implemented works, what is not is refused by name
chat() { echo "{\"model\":\"default\",\"messages\":[{\"role\":\"user\",\"content\":$1}],\"max_tokens\":4${2:-}}"; }
expect "content parts" 200 '"role":"assistant"' -- POST /v1/chat/completions "$(chat '[{"type":"text","text":"Hi"},{"type":"text","text":"there"}]')"
expect "image part" 400 'messages\[0\].content\[0\].type' -- POST /v1/chat/completions "$(chat '[{"type":"image_url","image_url":{"url":"http://x/y.png"}}]')"
grep -q "image_url" "$WORK/b" || fail "image part: the type is not named: $(cat "$WORK/b")"
expect "developer role" 200 '"role":"assistant"' -- POST /v1/chat/completions '{"model":"default","messages":[{"role":"developer","content":"Be brief"},{"role":"user","content":"Hi"}],"max_tokens":2}'
expect "tool role" 400 "messages\[0\].role: 'tool'" -- POST /v1/chat/completions '{"model":"default","messages":[{"role":"tool","content":"x"}]}'
expect "null user content" 400 'messages\[0\].content' -- POST /v1/chat/completions '{"model":"default","messages":[{"role":"user","content":null}]}'
expect "null assistant content" 200 '"chat.completion"' -- POST /v1/chat/completions '{"model":"default","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":null},{"role":"user","content":"Again"}],"max_tokens":2}'
expect "tools" 400 'tools: not supported by this server' -- POST /v1/chat/completions "$(chat '"Hi"' ',"tools":[{"type":"function","function":{"name":"f"}}]')"
expect "null counts as absent" 200 '"chat.completion"' -- POST /v1/chat/completions "$(chat '"Hi"' ',"tools":null,"n":null')"
expect "n: 2" 400 'n: only 1' -- POST /v1/chat/completions "$(chat '"Hi"' ',"n":2')"
expect "suffix" 400 'suffix: not supported by this server' -- POST /v1/completions '{"model":"default","prompt":"x","suffix":"y"}'
expect "echo" 400 'echo: not supported' -- POST /v1/completions '{"model":"default","prompt":"x","echo":true}'
# A route asks the model for the capability it needs: the echo model cannot
# generate text, and its refusal names the model and the capability.
expect "no generate" 400 "model 'echo' does not support generate" -- POST /v1/chat/completions '{"model":"echo","messages":[{"role":"user","content":"Hi"}]}'
expect "no generate (completions)" 400 "model 'echo' does not support generate" -- POST /v1/completions '{"model":"echo","prompt":"x"}'
expect "user" 200 '"text_completion"' -- POST /v1/completions '{"model":"default","prompt":"x","max_tokens":2,"user":"alice"}'
expect "max tokens disagree" 400 'max_completion_tokens' -- POST /v1/chat/completions "$(chat '"Hi"' ',"max_completion_tokens":5')"
expect "logit_bias key" 400 "logit_bias: 'abc'" -- POST /v1/completions '{"model":"default","prompt":"x","logit_bias":{"abc":1}}'
expect "logit_bias value" 400 'logit_bias: the bias of token 5' -- POST /v1/completions '{"model":"default","prompt":"x","logit_bias":{"5":101}}'
expect "logit_bias vocabulary" 400 'not in the vocabulary' -- POST /v1/completions '{"model":"default","prompt":"x","logit_bias":{"99999999":1}}'
expect "logit_bias forces" 200 '"text_completion"' -- POST /v1/completions '{"model":"default","prompt":"x","max_tokens":3,"temperature":0,"logit_bias":{"1000":100}}'
[[ $(json "d['choices'][0]['text'] == 3 * d['choices'][0]['text'][:len(d['choices'][0]['text']) // 3]" <"$WORK/b") == True ]] ||
  fail "logit_bias +100: the same token three times expected: $(cat "$WORK/b")"
expect "penalty range" 400 'presence_penalty' -- POST /v1/completions '{"model":"default","prompt":"x","presence_penalty":3}'
expect "models retrieve" 200 '"max_model_len":' -- GET /v1/models/default
[[ $(json "d['id'] == 'default' and d['object'] == 'model' and d['context_length'] == d['max_model_len'] > 0" <"$WORK/b") == True ]] ||
  fail "models retrieve: $(cat "$WORK/b")"
expect "models list context" 200 '"max_model_len":' -- GET /v1/models
expect "models retrieve unknown" 404 "model 'nope'" -- GET /v1/models/nope
grep -q '"error":{' "$WORK/b" || fail "models retrieve unknown: not an OpenAI error: $(cat "$WORK/b")"
out=$(curl -s -w " %{http_code}" "$URL/health"); [[ $out == '{"status":"ok"} 200' ]] || fail "health (no key needed): $out"
expect "chat logprobs" 200 '"top_logprobs"' -- POST /v1/chat/completions "$(chat '"Hi"' ',"temperature":0,"logprobs":true,"top_logprobs":2')"
[[ $(json "len(d['choices'][0]['logprobs']['content']) == d['usage']['completion_tokens'] and all(e['logprob'] <= 0 and len(e['top_logprobs']) == 2 and e['top_logprobs'][0]['logprob'] == e['logprob'] and isinstance(e['bytes'], list) for e in d['choices'][0]['logprobs']['content'])" <"$WORK/b") == True ]] ||
  fail "chat logprobs shape: $(cat "$WORK/b")"
expect "completion logprobs" 200 '"text_offset"' -- POST /v1/completions '{"model":"default","prompt":"Hello","max_tokens":4,"temperature":0,"logprobs":3}'
[[ $(json "all(len(d['choices'][0]['logprobs'][k]) == 4 for k in ('tokens', 'token_logprobs', 'top_logprobs', 'text_offset')) and all(len(t) == 3 for t in d['choices'][0]['logprobs']['top_logprobs']) and d['choices'][0]['logprobs']['text_offset'][0] == 0" <"$WORK/b") == True ]] ||
  fail "completion logprobs shape: $(cat "$WORK/b")"
out=$(curl -sN -H "Authorization: Bearer $KEY" -d '{"model":"default","prompt":"Hello","max_tokens":6,"stream":true,"temperature":0,"logprobs":1}' "$URL/v1/completions")
n=$(sed -n 's/^data: \({.*\)/\1/p' <<<"$out" | python3 -c "import json,sys; print(sum(len(json.loads(l)['choices'][0]['logprobs']['tokens']) for l in sys.stdin if json.loads(l)['choices']))")
[[ $n == 6 ]] || fail "streamed logprobs: $n entries for 6 tokens: $out"
schema='{"type":"json_schema","json_schema":{"name":"answer","strict":true,"schema":{"type":"object","properties":{"answer":{"type":"string","enum":["yes","no"]}},"required":["answer"],"additionalProperties":false}}}'
expect "json_schema" 200 '"finish_reason":"stop"' -- POST /v1/chat/completions "$(chat '"Yes or no?"' ",\"max_tokens\":64,\"temperature\":0,\"response_format\":$schema")"
[[ $(json "json.loads(d['choices'][0]['message']['content'])['answer'] in ('yes', 'no')" <"$WORK/b") == True ]] ||
  fail "json_schema output does not parse as the schema: $(cat "$WORK/b")"
expect "bad schema" 400 'response_format' -- POST /v1/chat/completions "$(chat '"Hi"' ',"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"$ref":"#/nowhere"}}}')"
expect "format type" 400 "response_format.type: 'xml'" -- POST /v1/chat/completions "$(chat '"Hi"' ',"response_format":{"type":"xml"}')"

# ---- many keep-alive connections streaming at once: every response arrives whole
if ! "$MP" loadgen --url "$URL" --api-key "$KEY" --model default --concurrency 32 --requests 640 --stream \
  --max-tokens 8 --prompt-tokens 16 --ignore-eos --timeout-ms 170000 >"$WORK/load" 2>&1; then
  counts=$(curl -s "$URL/metrics" | grep '^modelpool_requests_total{model="default"' | tr '\n' ' ')
  fail "concurrent streams: $(grep -i 'error' "$WORK/load") (server counts: $counts)"
fi

# ---- errors name what is wrong
expect "bad json" 400 'not valid JSON' -- POST /v1/completions '{"model":'
expect "bad field" 400 'max_tokens' -- POST /v1/completions '{"model":"default","prompt":"x","max_tokens":-1}'
expect "missing field" 400 'prompt' -- POST /v1/completions '{"model":"default"}'
expect "unknown model" 404 "model 'nope'" -- POST /v1/completions '{"model":"nope","prompt":"x"}'
expect "unknown route" 404 'no route' -- GET /v1/nothing
expect "method" 405 'not allowed' -- GET /v1/completions
head -c 100000 /dev/zero | tr '\0' 'a' >"$WORK/big"
out=$(curl -s -w " %{http_code}" -H "Authorization: Bearer $KEY" --data-binary @"$WORK/big" "$URL/v1/completions")
[[ $out == *" 413" ]] || fail "413: $out"
# An audio upload has its own limit (max_audio_upload_mb, 25 MiB), not max_body_bytes: the same body
# reaches the route (a model that does not transcribe), and one over 25 MiB is refused before it is sent.
out=$(curl -s -w " %{http_code}" -H "Authorization: Bearer $KEY" -F model=default -F file=@"$WORK/big" "$URL/v1/audio/transcriptions")
[[ $out == *"model 'default' does not support transcribe"*" 400" ]] || fail "audio upload over max_body_bytes: $out"
out=$(python3 - "${URL##*:}" "$KEY" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + sys.argv[2].encode() +
          b"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 26214401\r\n"
          b"Expect: 100-continue\r\n\r\n")
answer = b""
while chunk := s.recv(65536):  # the server closes after a 413
    answer += chunk
print(answer.decode())
PY
)
[[ $out == *"413"*"max_audio_upload_mb"* ]] || fail "audio upload over max_audio_upload_mb: ${out:0:300}"
long=$(python3 -c "print(' word' * 3000)")
expect "prompt too long" 400 'do not fit the context' -- POST /v1/completions "{\"model\":\"default\",\"prompt\":\"$long\"}"

# ---- KServe inference
expect "infer echo" 200 '"outputs"' -- POST /v2/models/echo/infer '{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1.5,2.5]},{"name":"t","shape":[1],"datatype":"BYTES","data":["hi"]}]}'
[[ $(json "d['outputs'][0]['data'] == [1.5, 2.5] and d['outputs'][1]['data'] == ['hi']" <"$WORK/b") == True ]] ||
  fail "infer echo did not return its inputs: $(cat "$WORK/b")"
expect "infer shape" 400 'shape needs 3' -- POST /v2/models/echo/infer '{"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1.5,2.5]}]}'
expect "infer llama" 200 '"name":"text_output"' -- POST /v2/models/default/infer '{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["Hello"]}],"parameters":{"max_tokens":3}}'

# ---- KServe JSON correctness
# KServe's error body is {"error": "message"}: one key, a string.
kserve_error() { [[ $(json "list(d) == ['error'] and isinstance(d['error'], str)" <"$WORK/b") == True ]] || fail "$1: not KServe's {\"error\": string}: $(cat "$WORK/b")"; }
infer1() { echo "{\"inputs\":[{\"name\":\"x\",\"shape\":$1,\"datatype\":\"$2\",\"data\":$3}]}"; }
expect "int8 out of range" 400 "input 'x': data\[3\]: 1000 is out of range for INT8 \[-128, 127\]" -- POST /v2/models/echo/infer "$(infer1 '[4]' INT8 '[1,2,3,1000]')"
kserve_error "400"
expect "shape overflow" 400 "input 'x': shape .*overflows 64 bits" -- POST /v2/models/echo/infer "$(infer1 '[4294967296,4294967296]' INT8 '[1]')"
expect "fp32 1e39" 400 "data\[0\]: 1e+39 is out of range for FP32" -- POST /v2/models/echo/infer "$(infer1 '[1]' FP32 '[1e39]')"
expect "fp64 1e400" 400 "data\[0\]: the number overflows a double" -- POST /v2/models/echo/infer "$(infer1 '[1]' FP64 '[1e400]')"
expect "NaN string" 400 "non-finite values are not accepted" -- POST /v2/models/echo/infer "$(infer1 '[1]' FP32 '["NaN"]')"
expect "1e3 for INT16" 200 '"data":\[1000\]' -- POST /v2/models/echo/infer "$(infer1 '[1]' INT16 '[1e3]')"
expect "64-bit limits" 200 '"outputs"' -- POST /v2/models/echo/infer '{"inputs":[{"name":"u","shape":[2],"datatype":"UINT64","data":[18446744073709551615,0]},{"name":"i","shape":[2],"datatype":"INT64","data":[-9223372036854775808,9223372036854775807]},{"name":"f","shape":[2],"datatype":"FP32","data":[0.1,3.4028235e38]}]}'
[[ $(json "[o['data'] for o in d['outputs']] == [[18446744073709551615, 0], [-9223372036854775808, 9223372036854775807], [0.1, 3.4028235e38]]" <"$WORK/b") == True ]] ||
  fail "64-bit integers or floats did not come back exactly: $(cat "$WORK/b")"
expect "v2 404 shape" 404 'no route /v2/nothing' -- GET /v2/nothing
kserve_error "404"
expect "v2 405 shape" 405 'not allowed' -- GET /v2/models/echo/infer
kserve_error "405"
expect "v2 unknown model shape" 404 "model 'nope' is not loaded" -- POST /v2/models/nope/infer "$(infer1 '[1]' INT8 '[1]')"
kserve_error "404 model"
expect "v1 keeps OpenAI errors" 404 'no route' -- GET /v1/nothing
[[ $(json "d['error']['type'] == 'not_found_error' and d['error']['code'] == 404" <"$WORK/b") == True ]] || fail "v1 error shape: $(cat "$WORK/b")"
expect "version metadata" 200 '"versions":\["1"\]' -- GET /v2/models/echo/versions/1
expect "version ready" 200 '"ready":true' -- GET /v2/models/echo/versions/1/ready
expect "version infer" 200 '"model_version":"1"' -- POST /v2/models/echo/versions/1/infer "$(infer1 '[1]' INT8 '[-128]')"
grep -q '"data":\[-128\]' "$WORK/b" || fail "version infer output: $(cat "$WORK/b")"
expect "unknown version" 404 "unknown version '2' of model 'echo'" -- GET /v2/models/echo/versions/2
kserve_error "unknown version"
expect "unknown version infer" 404 "unknown version '7'" -- POST /v2/models/echo/versions/7/infer "$(infer1 '[1]' INT8 '[1]')"
# LLM parameters are typed: 3.0 and 1e1 are 3 and 10 tokens (through text, "1e1" read 1), "50 tokens" is no number
tokens() { curl -s "$URL/metrics" | sed -n 's/^modelpool_tokens_generated_total{model="default"} //p'; }
prompt='"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["Hello"]}]'
for n in 3.0 1e1; do
  before=$(tokens)
  expect "llama max_tokens $n" 200 '"text_output"' -- POST /v2/models/default/infer "{$prompt,\"parameters\":{\"max_tokens\":$n,\"ignore_eos\":true,\"temperature\":0}}"
  want=$(python3 -c "print(int($n))")
  [[ $(($(tokens) - before)) == "$want" ]] || fail "max_tokens $n generated $(($(tokens) - before)) tokens, expected $want"
done
expect "llama max_tokens text" 400 'parameters.max_tokens: expected an integer' -- POST /v2/models/default/infer "{$prompt,\"parameters\":{\"max_tokens\":\"50 tokens\"}}"
kserve_error "parameter 400"
[[ $(json "d['error']" <"$WORK/b") == 'parameters.max_tokens: expected an integer in [1, 1048576], got "50 tokens"' ]] || fail "parameter message: $(cat "$WORK/b")"
expect "llama unknown parameter" 400 "parameters: unknown 'max_token'" -- POST /v2/models/default/infer "{$prompt,\"parameters\":{\"max_token\":5}}"
expect "timeout_ms typed" 400 'parameters.timeout_ms' -- POST /v2/models/echo/infer "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT8\",\"data\":[1]}],\"parameters\":{\"timeout_ms\":\"100\"}}"
# ---- end of KServe JSON correctness

# ---- health tells the truth: a decoding loop that stops stepping is not live
curl -s -o "$WORK/wedged" -w "%{http_code}" -H "Authorization: Bearer $KEY" \
  -d '{"model":"wedged","prompt":"Hi","max_tokens":2}' "$URL/v1/completions" >"$WORK/wedged.code" &
wedged=$!
expect "live before" 200 '"live":true' -- GET /v2/health/live
sleep 1
expect "live while wedged" 503 '"live":false' -- GET /v2/health/live
expect "ready while wedged" 503 '"ready":false' -- GET /v2/health/ready
wait "$wedged"
[[ $(cat "$WORK/wedged.code") == 200 ]] || fail "wedged request: $(cat "$WORK/wedged.code") $(cat "$WORK/wedged")"
expect "live after" 200 '"live":true' -- GET /v2/health/live

# ---- back-pressure and deadlines: slow has 1 instance, 1 queue place, 400 ms timeout
slow='{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}'
curl -s -o /dev/null -H "Authorization: Bearer $KEY" -d "$slow" "$URL/v2/models/slow/infer" &
running=$!
sleep 0.2
start=$(date +%s%N)
curl -s -o "$WORK/504" -w "%{http_code}" -H "Authorization: Bearer $KEY" -d "$slow" "$URL/v2/models/slow/infer" >"$WORK/504.code" &
queued=$!
sleep 0.1
expect "queue full" 429 'queue is full' -- POST /v2/models/slow/infer "$slow"
grep -qi '^Retry-After:' "$WORK/h" || fail "429 without Retry-After"
wait "$queued"
elapsed=$((($(date +%s%N) - start) / 1000000))
[[ $(cat "$WORK/504.code") == 504 ]] || fail "deadline: $(cat "$WORK/504.code") $(cat "$WORK/504")"
((elapsed < 1200)) || fail "504 came after ${elapsed} ms, the running request would have freed the instance at ~1500 ms"
wait "$running"

# ---- a client that disconnects cancels its generation and frees the slot
streams=()
for _ in 1 2; do
  curl -s -o /dev/null --max-time 1 -H "Authorization: Bearer $KEY" \
    -d '{"model":"default","prompt":"Go on","max_tokens":100000,"stream":true,"ignore_eos":true}' "$URL/v1/completions" &
  streams+=($!)
done
sleep 0.5
busy() { curl -s "$URL/metrics" | sed -n 's/^modelpool_instances{model="default",state="busy"} //p'; }
[[ $(busy) == 2 ]] || fail "both slots should be busy while streaming, got $(busy)"
wait "${streams[@]}"
for _ in $(seq 40); do [[ $(busy) == 0 ]] && break; sleep 0.05; done
[[ $(busy) == 0 ]] || fail "slots not freed 2 s after the clients disconnected: busy=$(busy)"

# ---- metrics, checked by promtool
curl -s "$URL/metrics" >"$WORK/metrics"
if command -v promtool >/dev/null; then
  promtool check metrics <"$WORK/metrics" >"$WORK/promtool" 2>&1 || fail "promtool: $(cat "$WORK/promtool")"
else
  fail "promtool not installed"
fi
grep -q 'modelpool_requests_total{model="slow",outcome="rejected",code="429"} 1' "$WORK/metrics" || fail "metrics: no queue_full count"
# two timeouts: the queued request, and the running one stopped at its deadline
grep -q 'modelpool_requests_total{model="slow",outcome="timeout",code="504"} 2' "$WORK/metrics" || fail "metrics: no timeout count"
grep -q 'modelpool_requests_total{model="default",outcome="cancelled",code="499"} [1-9]' "$WORK/metrics" || fail "metrics: disconnected streams not counted cancelled"
for family in time_to_first_token_seconds time_per_output_token_seconds request_duration_seconds queue_wait_seconds; do
  grep -q "^modelpool_${family}_count{model=\"default\"} [1-9]" "$WORK/metrics" || fail "metrics: no modelpool_${family} for default"
done
grep -q '^modelpool_kv_cache_cells{model="default"} 2048' "$WORK/metrics" || fail "metrics: KV-cache capacity"
grep -q '^modelpool_kv_cache_used_cells{model="default"} 0' "$WORK/metrics" || fail "metrics: KV cells still used when idle"
grep -q 'modelpool_tokens_generated_total{model="default"}' "$WORK/metrics" || fail "metrics: no tokens"
grep -q '^modelpool_process_pss_bytes [1-9]' "$WORK/metrics" || fail "metrics: no PSS"

# ---- the official OpenAI SDK, on the pinned Node 20 (its streaming fails on Debian's Node 18)
if [[ -d "$ROOT/tests/openai-sdk/node_modules/openai" ]]; then
  "$ROOT/tests/openai-sdk/node20" "$ROOT/tests/openai-sdk/sdk_test.mjs" "$URL" "$KEY" || fail "openai sdk"
else
  fail "tests/openai-sdk/node_modules missing (npm ci in tests/openai-sdk)"
fi
# ---- the README's SDK example, run as the README says
out=$(cd "$ROOT/examples/openai-node" && MODELPOOL_URL="$URL" MODELPOOL_API_KEY="$KEY" npm start --silent 2>&1)
[[ $? -eq 0 && -n ${out//[[:space:]]/} ]] || fail "README example (examples/openai-node): $out"

# ---- repository: unload and load one model while another serves
expect "index" 200 '"name":"echo","version":"1","state":"READY"' -- POST /v2/repository/index
expect "unload" 200 '{}' -- POST /v2/repository/models/echo/unload
expect "unloaded infer" 404 'not loaded' -- POST /v2/models/echo/infer '{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[1]}]}'
expect "others still serve" 200 '"text_completion"' -- POST /v1/completions '{"model":"default","prompt":"Hi","max_tokens":2}'
expect "index after unload" 200 '"name":"echo","version":"1","state":"UNAVAILABLE"' -- POST /v2/repository/index
expect "load" 200 '{}' -- POST /v2/repository/models/echo/load
expect "reloaded infer" 200 '"outputs"' -- POST /v2/models/echo/infer '{"inputs":[{"name":"x","shape":[1],"datatype":"INT32","data":[7]}]}'
expect "load unknown" 404 'no model named' -- POST /v2/repository/models/nope/load

# ---- SIGTERM drains: a request in flight finishes, then the server exits 0
curl -s -o "$WORK/drain" -w "%{http_code}" -H "Authorization: Bearer $KEY" -d "$slow" "$URL/v2/models/drainer/infer" >"$WORK/drain.code" &
inflight=$!
sleep 0.3
kill -TERM "$pid"
wait "$inflight"
[[ $(cat "$WORK/drain.code") == 200 ]] || fail "request in flight at SIGTERM: $(cat "$WORK/drain.code") $(cat "$WORK/drain")"
wait "$pid"; rc=$?
pid=""
[[ $rc -eq 0 ]] || fail "server exit code $rc after SIGTERM"
curl -s -o /dev/null "$URL/v2/health/live" && fail "server still answering after SIGTERM"

if ((fails)); then
  echo "--- server log"; tail -20 "$WORK/log"
  exit 1
fi
echo "server: all checks passed"
