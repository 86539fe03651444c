// Tensor and Shape helpers of the public API.
#include "spruce/tensor.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "spruce/element_types.h"
#include "spruce/error.h"

namespace spruce {

namespace {
struct DataTypeInfo {
  DataType dtype;
  const char* name;
  size_t size;
};
constexpr DataTypeInfo kDataTypes[] = {
    {DataType::kFloat32, "float32", 4}, {DataType::kInt64, "int64", 8},
    {DataType::kInt32, "int32", 4},     {DataType::kBool, "bool", 1},
    {DataType::kUint8, "uint8", 1},     {DataType::kInt8, "int8", 1},
    {DataType::kInt16, "int16", 2},     {DataType::kUint16, "uint16", 2},
    {DataType::kUint32, "uint32", 4},   {DataType::kUint64, "uint64", 8},
};

const DataTypeInfo& info_of(DataType dtype) {
  for (const DataTypeInfo& t : kDataTypes) {
    if (t.dtype == dtype) return t;
  }
  throw Error("unknown data type " + std::to_string(static_cast<int>(dtype)));
}
}  // namespace

const char* data_type_name(DataType dtype) { return info_of(dtype).name; }
size_t data_type_size(DataType dtype) { return info_of(dtype).size; }

std::vector<unsigned char> to_elements(const std::vector<int64_t>& values,
                                       DataType dtype) {
  std::vector<unsigned char> out;
  if (dtype == DataType::kFloat32) {
    throw Error("to_elements: float32 is not an integer type");
  }
  with_element_type(dtype, [&](auto zero) {
    using T = decltype(zero);
    constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();
    const int64_t lo = static_cast<int64_t>(std::numeric_limits<T>::min());
    const int64_t hi =
        dtype == DataType::kBool ? 1
        : std::numeric_limits<T>::max() > static_cast<uint64_t>(kMax64)
            ? kMax64
            : static_cast<int64_t>(std::numeric_limits<T>::max());
    out.reserve(values.size() * sizeof(T));
    for (size_t k = 0; k < values.size(); ++k) {
      const int64_t v = values[k];
      if (v < lo || v > hi) {
        throw Error("value " + std::to_string(v) + " at position " +
                    std::to_string(k) + " is not a " + data_type_name(dtype));
      }
      const auto typed = static_cast<T>(v);
      unsigned char bytes[sizeof(T)];
      std::memcpy(bytes, &typed, sizeof(T));
      out.insert(out.end(), bytes, bytes + sizeof(T));
    }
  });
  return out;
}

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
