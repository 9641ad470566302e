// Boost.JSON's implementation, compiled into the fuzz targets (cmake/fuzz.cmake)
// with their instrumentation: the system's libboost_json is not instrumented,
// so the fuzzer would not see its way through the JSON parser.
#include <boost/json/src.hpp>
