// Tensor and Shape helpers of the public API.
#include "spruce/tensor.h"

#include <algorithm>
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

void Tensor::reset(const Shape& shape) {
  const size_t count = element_count(shape);
  shape_.assign(shape.begin(), shape.end());
  data_.resize(count);
}

bool broadcast_shape(const Shape& a, const Shape& b, Shape* out) {
  const size_t rank = std::max(a.size(), b.size());
  Shape y(rank);
  for (size_t k = 0; k < rank; ++k) {
    const int64_t da = k < rank - a.size() ? 1 : a[k - (rank - a.size())];
    const int64_t db = k < rank - b.size() ? 1 : b[k - (rank - b.size())];
    if (da == 1 || db == 1) {
      y[k] = da == 1 ? db : da;
    } else if (da < 0 || db < 0) {
      y[k] = da < 0 ? db : da;
    } else if (da != db) {
      return false;
    } else {
      y[k] = da;
    }
  }
  *out = std::move(y);
  return true;
}

}  // namespace spruce
