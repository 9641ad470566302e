// The dashboard's static files (src/server/dashboard/), embedded in the
// binary at build time: CMake turns each file into bytes of a generated .cc
// (cmake/embed_assets.cmake). Nothing is read from disk or fetched from
// elsewhere at run time.
#pragma once

#include <span>
#include <string_view>

namespace modelpool::server {

struct StaticAsset {
  std::string_view path;          // "/dashboard" (index.html), "/dashboard/dashboard.js", ...
  std::string_view content_type;  // from the file's extension
  std::string_view body;          // the file's bytes
};

// Every embedded file. The table and the bytes are constants of the program.
std::span<const StaticAsset> dashboard_assets();

}  // namespace modelpool::server
