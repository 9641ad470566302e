// Offload: where llama.cpp puts a model's layers, from the llama backend's
// load options `gpu_layers` and `device`, checked against the ggml devices
// this build of llama.cpp finds on this machine.
//
// A CPU build of llama.cpp (scripts/setup-llama's default) has one device,
// "CPU". A CUDA build (MODELPOOL_CUDA=1) adds "CUDA0", "CUDA1"... for the
// GPUs the NVIDIA driver shows: none on a machine without a GPU or driver.
//
//   auto offload = resolve_offload(99, "", "llama model 'm'");
//   if (!offload.ok()) return offload.status();  // names the option
//   LlamaWeights::load(path, progress, /*mmap=*/true, *offload);
#pragma once

#include <ggml-backend.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "modelpool/status.h"

namespace modelpool::llama {

struct Offload {
  // llama.cpp's n_gpu_layers: 0 keeps the whole model on the CPU and leaves
  // every GPU alone (llama.cpp would otherwise still run large prompt
  // batches on one); -1 puts every layer on the GPU; N the last N layers,
  // the output layer counting as one.
  std::int32_t gpu_layers = 0;
  // The one GPU to use. Null: llama.cpp's choice, every GPU it finds, the
  // layers split between them.
  ggml_backend_dev_t device = nullptr;
};

// The Offload that `gpu_layers` and `device` (empty: none given) ask for,
// when this build and machine can do it. kInvalidArgument, `context` first
// ("llama model 'm'"), naming the option and the devices there are, when
//  - `device` names no device, or one that is not a GPU;
//  - `device` is given with gpu_layers = 0 (it would do nothing);
//  - gpu_layers != 0 and there is no GPU: either this llama.cpp build has no
//    GPU backend, or its GPU backend found no GPU.
// REQUIRES: gpu_layers >= -1 (the option's schema checks it).
Result<Offload> resolve_offload(std::int64_t gpu_layers, const std::string& device,
                                std::string_view context);

// The ggml devices of this process, by name, in llama.cpp's order:
// "CPU", or "CUDA0, CPU".
std::string device_names();

// Whether this process has a GPU llama.cpp can offload to.
bool has_gpu();

}  // namespace modelpool::llama
