// Tensor and Shape helpers of the public API.
#include "spruce/tensor.h"

#include <limits>

#include "spruce/error.h"

namespace spruce {

size_t element_count(const Shape& shape) {
  size_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) {
      throw Error("shape " + to_string(shape) + " has a negative dimension");
    }
    const auto d = static_cast<size_t>(dim);
    if (d != 0 && count > std::numeric_limits<size_t>::max() / d) {
      throw Error("shape " + to_string(shape) + " has too many elements");
    }
    count *= d;
  }
  return count;
}

std::string to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += shape[i] < 0 ? "?" : std::to_string(shape[i]);
  }
  return s + "]";
}

Tensor::Tensor(Shape shape)
    : shape_(std::move(shape)), data_(element_count(shape_), 0.0f) {}

Tensor::Tensor(Shape shape, std::vector<float> data)
    : shape_(std::move(shape)), data_(std::move(data)) {
  if (data_.size() != element_count(shape_)) {
    throw Error("tensor of shape " + to_string(shape_) + " needs " +
                std::to_string(element_count(shape_)) + " values, got " +
                std::to_string(data_.size()));
  }
}

}  // namespace spruce
