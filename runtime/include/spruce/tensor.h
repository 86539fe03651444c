// Tensors at the API boundary: shapes, an owning float tensor, and the
// description of a model's inputs and outputs.
#ifndef SPRUCE_TENSOR_H_
#define SPRUCE_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace spruce {

// A tensor's element type, as the model declares it. spruce computes in
// float32: integer and bool tensors (token ids, attention masks, indices,
// comparison results) are passed in their own type and held inside the
// runtime as float, exact for magnitudes up to 2^24 (an input beyond is
// refused); bool as 0 and 1. Outputs of these types are returned as float
// tensors holding those exact values (TensorInfo::dtype says which type
// the model meant). Integer arithmetic that overflows its type does not
// wrap. The numbers are the .spruce file's codes.
enum class DataType : uint8_t {
  kFloat32 = 0,
  kInt64 = 1,
  kInt32 = 2,
  kBool = 3,
  kUint8 = 4,
  kInt8 = 5,
  kInt16 = 6,
  kUint16 = 7,
  kUint32 = 8,
  kUint64 = 9,
};

// "float32", "int64", "bool", ...
const char* data_type_name(DataType dtype);
// Bytes per element in Input::elements (bool: 1).
size_t data_type_size(DataType dtype);
// An integer or bool type (not kFloat32).
inline bool is_integer(DataType dtype) { return dtype != DataType::kFloat32; }
// `values` as elements of integer or bool type `dtype`, for Input::elements
// (data_type_size(dtype) bytes each); throws spruce::Error naming the first
// value outside the type's range (bool: 0 or 1).
std::vector<unsigned char> to_elements(const std::vector<int64_t>& values,
                                       DataType dtype);

// Dimensions, outermost first. In a TensorInfo, -1 marks a dimension fixed
// only at run time (batch, sequence length).
using Shape = std::vector<int64_t>;

// Product of the dimensions (1 for a scalar); throws spruce::Error if a
// dimension is negative or the product overflows.
size_t element_count(const Shape& shape);

// The shape numpy broadcasting gives `a` and `b` (dimensions aligned from the
// right, a 1 stretches to the other's size; -1 is unknown and stays unknown
// unless the other is a known size other than 1). False if they do not
// broadcast.
bool broadcast_shape(const Shape& a, const Shape& b, Shape* out);

// "[1, 784]"; dynamic dimensions print as "?".
std::string to_string(const Shape& shape);

// An owning, contiguous, row-major float32 tensor.
class Tensor {
 public:
  Tensor() = default;
  // Zero-filled tensor of `shape`.
  explicit Tensor(Shape shape);
  // Adopts `data`; throws spruce::Error if its size does not match `shape`.
  Tensor(Shape shape, std::vector<float> data);

  const Shape& shape() const { return shape_; }
  size_t size() const { return data_.size(); }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  const std::vector<float>& values() const { return data_; }
  // Gives the tensor `shape`, keeping its storage when it is large enough
  // (so a tensor reused across runs stops allocating); contents unspecified.
  void reset(const Shape& shape);

 private:
  Shape shape_;
  std::vector<float> data_;
};

// Name, shape and element type of a model input or output.
struct TensorInfo {
  std::string name;
  Shape shape;  // -1 where dynamic
  DataType dtype = DataType::kFloat32;
};

// An input passed to Engine::run, borrowed for the duration of the call:
// element_count(shape) elements, row-major, in the input's declared type
// (TensorInfo::dtype): in `data` (float32), `int64_data` (int64) or
// `elements` (any type).
struct Input {
  std::string name;
  const float* data = nullptr;  // a float32 input's elements
  Shape shape;
  // An int64 input's elements (token ids, attention masks).
  const int64_t* int64_data = nullptr;
  // An input of any type: its elements as that type's C++ type (int32_t,
  // uint8_t, ...; bool as one byte, 0 or 1). Integer values must lie
  // within ±2^24.
  const void* elements = nullptr;
};

}  // namespace spruce

#endif  // SPRUCE_TENSOR_H_
