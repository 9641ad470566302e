// KServe v2 JSON tensors <-> Tensor (raw little-endian bytes).
//
// A JSON input is {"name", "shape", "datatype", "data"} where data is a flat
// or nested array of numbers, booleans or (BYTES) strings, row-major. FP16
// and BF16 are not accepted in JSON (kInvalidArgument naming the input).
#pragma once

#include <boost/json.hpp>

#include "modelpool/backend.h"

namespace modelpool::server {

// Converts one input; errors name the input and what is wrong (unknown
// datatype, element count not matching the shape, a value of the wrong type).
Result<Tensor> tensor_from_json(const boost::json::value& input, std::size_t index);
boost::json::object tensor_to_json(const Tensor& tensor);

// A KServe "parameters" object as typed Parameters: booleans, integers
// (int64, or uint64 above INT64_MAX), other numbers (double) and strings keep
// their type. kInvalidArgument naming the key for anything else (null, an
// array, an object) and for a number that overflows a double (1e400).
Result<Parameters> parameters_from_json(const boost::json::value& parameters);

}  // namespace modelpool::server
