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

}  // namespace modelpool::server
