// Internal helpers shared by the ONNX importer and tensor reader.
#ifndef SPRUCE_CONVERTERS_ONNX_UTIL_H_
#define SPRUCE_CONVERTERS_ONNX_UTIL_H_

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "spruce/tensor.h"

namespace spruce::converters {

// A constant tensor of the model: float32 values, or integer or bool ones
// (every such type widened to int64, `dtype` saying which it was).
struct Constant {
  Shape shape;
  bool is_float = true;
  std::vector<float> f;
  std::vector<int64_t> i;
  DataType dtype = DataType::kFloat32;
};

// The spruce type of an ONNX element type (TensorProto::DataType): float32
// and the integer and bool types; none for the rest (double, float16,
// string, ...).
std::optional<DataType> data_type_of_onnx(int onnx_type);
// The ONNX element type of a spruce type.
int onnx_type_of(DataType dtype);

// Decodes a TensorProto (raw_data or typed fields; float32, integer or
// bool). Throws spruce::Error naming `what` for other types, external data,
// or a size that does not match the dims.
Constant constant_from_proto(const onnx::TensorProto& proto,
                             const std::string& what);

// An ONNX element type's name as ONNX's backend tests spell it in lower
// case ("float16", "uint8", "string"); "type N" for a number ONNX has no
// name for.
std::string onnx_type_name(int data_type);

// Reads all of `path` (bounded by `max_bytes`); throws spruce::Error.
std::string read_file_bytes(const std::string& path, size_t max_bytes);

}  // namespace spruce::converters

#endif  // SPRUCE_CONVERTERS_ONNX_UTIL_H_
