// Fuzz target: the bytes a client sends on a connection, read as a
// connection reads them and routed as the server routes them.
//
// Each request is read by Beast's parser with the server's limits and rules
// (http_server.h: prepare_request_parser, check_request_head,
// refusal_for_read_error; the body limit the router chooses, Api::body_limit),
// then handed to the router, Api::handle, which runs it to its answer on a
// served sim model (src/testing/fuzz_api.h). Pipelined requests are read in
// turn until one is refused, asks to close, or the bytes end. The bytes
// arrive in segments of changing sizes, as TCP delivers them, so a request
// is also parsed across reads.
//
// Corpus: fuzz/corpus/http (requests as clients send them: curl, the OpenAI
// SDK, Triton's client, browsers, malformed ones). Replayed by ctest
// fuzz.replay.http.
#include <boost/asio/buffer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/api.h"
#include "server/http_server.h"
#include "testing/fuzz_api.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using namespace modelpool;

// A SyncReadStream over the input: each read takes the next segment.
class SegmentedStream {
 public:
  explicit SegmentedStream(std::string_view bytes) : bytes_(bytes) {}

  template <typename MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
    // Sizes a client's segments may have, in turn.
    static constexpr std::size_t kSegments[] = {1460, 1, 7, 64, 65536, 3, 512};
    if (bytes_.empty()) {
      ec = boost::asio::error::eof;
      return 0;
    }
    ec = {};
    const std::size_t want = std::min(kSegments[reads_++ % std::size(kSegments)], bytes_.size());
    const std::size_t n =
        boost::asio::buffer_copy(buffers, boost::asio::buffer(bytes_.data(), want));
    bytes_.remove_prefix(n);
    return n;
  }
  template <typename MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code ec;
    const std::size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::string_view bytes_;
  std::size_t reads_ = 0;
};

// The answer a connection gives itself (Connection::refuse): the error body
// for the target read so far.
void refuse(const server::HttpOptions& options, const server::RequestParser& parser,
            const server::Refusal& refusal) {
  std::string_view target;
  if (parser.got_some()) target = parser.get().target();
  const std::string body =
      options.error_body(target, refusal.message, static_cast<int>(refusal.status));
  boost::system::error_code ec;
  boost::json::parse(body, ec);
  if (ec) fuzzing::fail("a refusal's body that is not JSON", body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzzing::FuzzApi fixture;
  static const server::HttpOptions options = fixture.http_options();
  SegmentedStream stream(std::string_view(reinterpret_cast<const char*>(data), size));
  beast::flat_buffer buffer;
  // A connection reads requests until one closes it; 16 are plenty here.
  for (int i = 0; i < 16; ++i) {
    server::RequestParser parser;
    server::prepare_request_parser(parser, options);
    server::BodyLimit limit;
    boost::system::error_code ec;
    http::read_header(stream, buffer, parser, ec);
    std::optional<server::Refusal> refusal;
    if (ec) {
      refusal = server::refusal_for_read_error(ec, options, limit);
      if (!refusal) break;  // the client closed: nothing to answer
    } else {
      refusal = server::check_request_head(parser, options, &limit);
      if (!refusal && !parser.is_done()) {
        http::read(stream, buffer, parser, ec);
        if (ec) {
          refusal = server::refusal_for_read_error(ec, options, limit);
          if (!refusal) break;
        }
      }
    }
    if (refusal) {
      refuse(options, parser, *refusal);
      break;  // a refusal closes the connection
    }
    server::HttpRequest request = parser.release();
    const bool keep_alive = request.keep_alive();
    fixture.handle(std::move(request));
    if (!keep_alive) break;
  }
  fixture.restore();
  return 0;
}
