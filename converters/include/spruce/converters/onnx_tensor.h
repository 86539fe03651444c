// Reading ONNX TensorProto data: initializers, and the .pb files of the ONNX
// test data format.
#ifndef SPRUCE_CONVERTERS_ONNX_TENSOR_H_
#define SPRUCE_CONVERTERS_ONNX_TENSOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "spruce/tensor.h"

namespace spruce::converters {

// One serialized onnx.TensorProto of float32, integer or bool elements.
struct OnnxTensorFile {
  std::string name;  // the graph input or output it is for
  Shape shape;
  DataType dtype = DataType::kFloat32;
  std::vector<float> floats;    // float32
  std::vector<int64_t> int64s;  // any other type, widened
  // Any other type's elements in that type (bool: a byte each), as
  // Input::elements takes them.
  std::vector<unsigned char> elements;
};

// Reads `path`; throws spruce::Error naming the file and the data type for
// any other element type, or for data that does not match the shape.
OnnxTensorFile read_onnx_tensor(const std::string& path);

// Reads a serialized onnx.TensorProto of float32, integer or bool elements
// from `path`, and its name (the graph input or output it is for) into
// `name` if not null. Integer values (token ids, masks) come as floats,
// exact within ±2^24, as spruce holds them; one outside that range, or any
// other element type, is a spruce::Error naming the file.
Tensor read_onnx_tensor_file(const std::string& path,
                             std::string* name = nullptr);

}  // namespace spruce::converters

#endif  // SPRUCE_CONVERTERS_ONNX_TENSOR_H_
