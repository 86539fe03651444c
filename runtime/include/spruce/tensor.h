// Tensors at the API boundary: shapes, an owning float tensor, and the
// description of a model's inputs and outputs.
#ifndef SPRUCE_TENSOR_H_
#define SPRUCE_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace spruce {

// A model input's element type. Int64 inputs (token ids, attention masks)
// are passed as int64 and held inside the runtime as float, exact for
// magnitudes below 2^24.
enum class DataType : uint8_t { kFloat32 = 0, kInt64 = 1 };

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

// Name and shape of a model input or output.
struct TensorInfo {
  std::string name;
  Shape shape;  // -1 where dynamic
  DataType dtype = DataType::kFloat32;
};

// An input passed to Engine::run, borrowed for the duration of the call:
// `data` points to element_count(shape) floats, row-major.
struct Input {
  std::string name;
  const float* data = nullptr;  // a float32 input's elements, row-major
  Shape shape;
  // An int64 input's elements instead (TensorInfo::dtype kInt64: token ids,
  // attention masks); values must lie within ±2^24.
  const int64_t* int64_data = nullptr;
};

}  // namespace spruce

#endif  // SPRUCE_TENSOR_H_
