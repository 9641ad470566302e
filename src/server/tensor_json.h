// KServe v2 JSON: tensors <-> Tensor (raw little-endian bytes), and request
// parameters -> Parameters.
//
// Input. A JSON input is {"name", "shape", "datatype", "data"} where data is
// a flat or nested array of JSON values, row-major; errors name the input and
// what is wrong, and for data the element by its row-major index
// ("input 'x': data[3]: 1000 is out of range for INT8 [-128, 127]"):
//   - shape: integers >= 0 (a safe integer written 2.0 counts);
//     the element count is computed without overflow (the product of the
//     non-zero dimensions must fit in 64 bits) and may not exceed
//     `max_elements` (what the body could hold); data must have exactly that
//     many elements.
//   - BOOL: true or false.
//   - INT8..INT64, UINT8..UINT64: integers within the type's range, the full
//     64-bit ranges included (UINT64 up to 18446744073709551615). A number
//     written with a fraction or exponent (1.0, 1e3) is accepted when it is
//     a safe integer (exact_integer in modelpool/backend.h: integral and
//     |x| < 2^53) in range, so 1e3 is 1000; never wrapped or truncated.
//   - FP32: any number whose value rounds to a finite float (|x| below
//     2^128 - 2^103, so 3.4028235e38, FLT_MAX as printed, is accepted and
//     1e39 is not); smaller magnitudes round (1e-50 is 0). FP64: any number
//     that is a finite double (1e400 overflows and is refused). Numbers are
//     converted exactly from their text (json_parse.h). Non-finite values are
//     not accepted in any form: JSON has no such number, and the strings
//     "NaN", "Infinity" are not numbers.
//   - BYTES: strings. FP16 and BF16 are not accepted (in JSON or binary).
//
// Output. tensor_to_json writes integers exactly (INT64 min, UINT64 max) and
// floats as the shortest decimal that reads back as the same value (an FP32
// 0.1f is written 0.1, and read as a double and rounded to float it is 0.1f
// again). A non-finite float, which JSON cannot express as a number, is
// written as the string "NaN", "Infinity" or "-Infinity": the proto3 JSON
// mapping of float and double, which KServe's gRPC-JSON users already know.
#pragma once

#include <boost/json.hpp>
#include <cstdint>

#include "modelpool/backend.h"
#include "server/shm_regions.h"

namespace modelpool::server {

// Converts inputs[index]; see above for the rules and errors. A JSON input's
// data is built once, into a buffer of its own.
//
// `binary` is the request's binary data not yet taken by the inputs before
// this one (binary_tensors.h), or null when the request has none. An input
// with "parameters": {"binary_data_size": K} and no "data" takes the first K
// bytes of *binary as its data, a slice sharing its owner (no copy), and
// *binary becomes the rest. kInvalidArgument naming the input when K is not
// what its shape and datatype take (BYTES: K must hold exactly the shape's
// elements), when K runs past *binary, when binary is null, when the input
// also has "data".
//
// `shm` is the server's registered client shared-memory regions, or null
// when client shared memory is off. An input with "parameters":
// {"shared_memory_region": R, "shared_memory_offset": O (default 0),
// "shared_memory_byte_size": S} (shm_parameters.h) and no "data" takes bytes
// [O, O + S) of region R as its data: a view of the mapping that owns it (no
// copy), so the region may be unregistered while the tensor lives. Its
// element count is bounded by S instead of `max_elements`. Errors naming the
// input: kInvalidArgument when S is not what its shape and datatype take (as
// K above), when [O, O + S) is not within R, when the input also has "data"
// or binary_data_size, when `shm` is null; kNotFound when R is not
// registered. Any other input parameter is kInvalidArgument naming it.
Result<Tensor> tensor_from_json(const boost::json::value& input, std::size_t index,
                                std::int64_t max_elements, Buffer* binary = nullptr,
                                const ShmRegistry* shm = nullptr);
// The output as JSON; with `binary` without "data", and with "parameters":
// {"binary_data_size": its byte size} instead (the bytes go after the JSON).
boost::json::object tensor_to_json(const Tensor& tensor, bool binary = false);

// Whether `tensor`'s data can be written as JSON "data" (tensor_to_json
// without `binary`): kInvalidArgument naming the output and the element
// when a BYTES element is not UTF-8 text, which a JSON string cannot hold
// (such an output goes as binary data: "binary_data": true).
Status check_json_data(const Tensor& tensor);

// A KServe "parameters" object as typed Parameters: booleans, integers
// (int64, or uint64 above INT64_MAX), other numbers (double) and strings keep
// their type. kInvalidArgument naming the key for anything else (null, an
// array, an object) and for a number that overflows a double (1e400).
Result<Parameters> parameters_from_json(const boost::json::value& parameters);

}  // namespace modelpool::server
