// The C++ element type of each integer and bool DataType, for the code that
// reads or writes tensors in their own types (engine inputs, ONNX tensor
// files, Input::elements): one switch instead of one per reader.
#ifndef SPRUCE_ELEMENT_TYPES_H_
#define SPRUCE_ELEMENT_TYPES_H_

#include <cstdint>

#include "spruce/error.h"
#include "spruce/tensor.h"

namespace spruce {

// Calls f(T{}) with the storage type of integer or bool type `dtype` (bool
// as uint8_t: one byte, 0 or 1) and returns what it returns; throws for
// float32.
template <class F>
decltype(auto) with_element_type(DataType dtype, F&& f) {
  switch (dtype) {
    case DataType::kInt64:
      return f(int64_t{});
    case DataType::kInt32:
      return f(int32_t{});
    case DataType::kBool:
    case DataType::kUint8:
      return f(uint8_t{});
    case DataType::kInt8:
      return f(int8_t{});
    case DataType::kInt16:
      return f(int16_t{});
    case DataType::kUint16:
      return f(uint16_t{});
    case DataType::kUint32:
      return f(uint32_t{});
    case DataType::kUint64:
      return f(uint64_t{});
    case DataType::kFloat32:
      break;
  }
  throw Error(std::string("internal: ") + data_type_name(dtype) +
              " is not an integer type");
}

}  // namespace spruce

#endif  // SPRUCE_ELEMENT_TYPES_H_
