// Reading ONNX TensorProto data: initializers, and the .pb files of the ONNX
// test data format.
#ifndef SPRUCE_CONVERTERS_ONNX_TENSOR_H_
#define SPRUCE_CONVERTERS_ONNX_TENSOR_H_

#include <string>

#include "spruce/tensor.h"

namespace spruce::converters {

// Reads a serialized onnx.TensorProto of float32 from `path`, and its name
// (the graph input or output it is for) into `name` if not null. Throws
// spruce::Error naming the file on anything else.
Tensor read_onnx_tensor_file(const std::string& path,
                             std::string* name = nullptr);

}  // namespace spruce::converters

#endif  // SPRUCE_CONVERTERS_ONNX_TENSOR_H_
