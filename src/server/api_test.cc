// The router on requests the fuzzer found (fuzz/crashes/http/): routed
// without a socket through src/testing/fuzz_api.h, which also checks that
// every answer is one answer, and JSON where it says so.
#include "server/api.h"

#include <gtest/gtest.h>

#include "testing/fuzz_api.h"

namespace modelpool::server {
namespace {

fuzzing::FuzzApi& api() {
  static fuzzing::FuzzApi fixture;
  return fixture;
}

unsigned route(http::verb method, std::string_view target) {
  const unsigned status = api().handle(HttpRequest(method, target, 11));
  api().restore();
  return status;
}

// POST /v2/repository/x threw std::out_of_range on the I/O thread (the
// path is shorter than "/v2/repository/models/"), which ended the server.
TEST(ApiTest, RepositoryPathsOutsideItsRoutesAre404) {
  for (std::string_view target : {"/v2/repository/x", "/v2/repository/", "/v2/repository/models",
                                  "/v2/repository/models/", "/v2/repository/models/echo/reload"}) {
    EXPECT_EQ(route(http::verb::post, target), 404u) << target;
  }
  EXPECT_EQ(route(http::verb::post, "/v2/repository/index"), 200u);
}

// A 404 quoting a target that is not UTF-8 was not JSON.
TEST(ApiTest, ErrorsQuotingBytesThatAreNotUtf8AreJson) {
  EXPECT_EQ(route(http::verb::get, "/v2\xff\xfe/systemsharedmemory/status"), 404u);
  EXPECT_EQ(route(http::verb::get, "/v1/models/\xc3"), 404u);
}

}  // namespace
}  // namespace modelpool::server
