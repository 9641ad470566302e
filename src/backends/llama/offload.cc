#include "backends/llama/offload.h"

#include <vector>

#include "backends/llama/llama_weights.h"

namespace modelpool::llama {
namespace {

// The devices llama.cpp offloads layers to (llama.cpp's own test, in
// llama_prepare_model_devices: discrete and integrated GPUs).
bool is_gpu(ggml_backend_dev_t dev) {
  const auto type = ggml_backend_dev_type(dev);
  return type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU;
}

std::vector<ggml_backend_dev_t> devices() {
  ensure_backend();  // llama.cpp's log routed before a GPU backend reports on its start
  std::vector<ggml_backend_dev_t> out;
  for (std::size_t i = 0; i < ggml_backend_dev_count(); ++i) out.push_back(ggml_backend_dev_get(i));
  return out;
}

// The GPU backends compiled in ("CUDA"), whether or not they found a GPU.
std::string gpu_backends() {
  std::string out;
  for (std::size_t i = 0; i < ggml_backend_reg_count(); ++i) {
    const std::string name = ggml_backend_reg_name(ggml_backend_reg_get(i));
    if (name == "CPU" || name == "BLAS" || name == "RPC") continue;
    out += (out.empty() ? "" : ", ") + name;
  }
  return out;
}

}  // namespace

std::string device_names() {
  std::string out;
  for (ggml_backend_dev_t dev : devices()) {
    out += (out.empty() ? "" : ", ") + std::string(ggml_backend_dev_name(dev));
  }
  return out.empty() ? "none" : out;
}

bool has_gpu() {
  for (ggml_backend_dev_t dev : devices()) {
    if (is_gpu(dev)) return true;
  }
  return false;
}

Result<Offload> resolve_offload(std::int64_t gpu_layers, const std::string& device,
                                std::string_view context) {
  const std::string where(context);
  Offload offload;
  offload.gpu_layers = static_cast<std::int32_t>(gpu_layers);
  if (!device.empty()) {
    ggml_backend_dev_t dev = nullptr;
    for (ggml_backend_dev_t d : devices()) {
      if (device == ggml_backend_dev_name(d)) dev = d;
    }
    if (dev == nullptr) {
      return invalid_argument_error(
          where + ": option 'device' = '" + device +
          "': no such device; this build of llama.cpp has: " + device_names());
    }
    if (!is_gpu(dev)) {
      return invalid_argument_error(where + ": option 'device' = '" + device +
                                    "' is not a GPU (the devices: " + device_names() +
                                    "); without a GPU leave device and gpu_layers out");
    }
    if (gpu_layers == 0) {
      return invalid_argument_error(where + ": option 'device' = '" + device +
                                    "' does nothing with gpu_layers = 0 (the default: no GPU); "
                                    "set gpu_layers too (-1: every layer)");
    }
    offload.device = dev;
  }
  if (gpu_layers != 0 && !has_gpu()) {
    const std::string option = where + ": option 'gpu_layers' = " + std::to_string(gpu_layers);
    const std::string backends = gpu_backends();
    if (backends.empty()) {
      return invalid_argument_error(option +
                                    " needs a GPU build of llama.cpp (MODELPOOL_CUDA=1, see "
                                    "README); this build has only: " +
                                    device_names());
    }
    return invalid_argument_error(option + " needs a GPU, and this build's " + backends +
                                  " backend found none (no GPU, or no driver, on this "
                                  "machine); the devices: " +
                                  device_names());
  }
  return offload;
}

}  // namespace modelpool::llama
