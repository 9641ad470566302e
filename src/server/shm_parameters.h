// The shared-memory parameters of an infer input or a requested output
// (Triton's system shared memory extension):
//
//   "parameters": {"shared_memory_region": "r",        // a registered region
//                  "shared_memory_offset": 64,        // optional, default 0
//                  "shared_memory_byte_size": 4096}   // required with a region
//
// An input with them takes its data from the region (shm_regions.h: a view
// of the mapping, no copy); an output with them is written into the region
// after the run (one copy) and comes back without "data".
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "modelpool/status.h"
#include "server/shm_regions.h"

namespace modelpool::server {

// The three keys, as they appear in "parameters".
inline constexpr const char* kShmRegion = "shared_memory_region";
inline constexpr const char* kShmOffset = "shared_memory_offset";
inline constexpr const char* kShmByteSize = "shared_memory_byte_size";

// What the client is told when it uses client shared memory on a server that
// was not started with it.
inline constexpr const char* kShmDisabled =
    "client shared memory is disabled: start the server with --allow-client-shm "
    "([server] allow_client_shm = true)";

struct ShmParameters {
  std::string region;
  std::uint64_t offset = 0;
  std::uint64_t byte_size = 0;
};

// The shared-memory parameters in `params` (an input's or output's
// "parameters" object; null values count as absent), nullopt when it has
// none. kInvalidArgument, prefixed with `at` ("input 'x'"), naming the
// parameter: region not a non-empty string; offset or byte_size not an
// integer >= 0 (a safe integer written 2.0 counts); offset or byte_size
// without a region; a region without byte_size.
Result<std::optional<ShmParameters>> shm_parameters_from_json(const boost::json::object& params,
                                                              const std::string& at);

// The slice `p` names in `regions`; errors are the registry's, prefixed with
// `at`. `regions` null (client shared memory off): kInvalidArgument
// kShmDisabled.
Result<ShmSlice> resolve_shm(const ShmRegistry* regions, const ShmParameters& p,
                             const std::string& at);

}  // namespace modelpool::server
