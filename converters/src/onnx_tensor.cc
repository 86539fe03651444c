// TensorProto decoding.
#include "spruce/converters/onnx_tensor.h"

#include <cctype>
#include <cstring>
#include <fstream>
#include <limits>

#include "onnx_util.h"
#include "spruce/element_types.h"
#include "spruce/error.h"

namespace spruce::converters {

std::string read_file_bytes(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw Error(path + ": cannot read (not a regular file?)");
  if (static_cast<uint64_t>(size) > max_bytes) {
    throw Error(path + ": " + std::to_string(size) + " bytes is larger than " +
                std::to_string(max_bytes) + " bytes this reader accepts");
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  if (!in) throw Error(path + ": read failed");
  return bytes;
}

std::string onnx_type_name(int data_type) {
  if (!onnx::TensorProto_DataType_IsValid(data_type) || data_type == 0) {
    return "type " + std::to_string(data_type);
  }
  std::string name = onnx::TensorProto_DataType_Name(
      static_cast<onnx::TensorProto_DataType>(data_type));
  for (char& ch : name) ch = static_cast<char>(std::tolower(ch));
  return name;
}

namespace {

// Elements of T from raw_data (little-endian bytes) or the typed field,
// exactly `count` of them.
template <class T, class Field>
std::vector<T> decode(const std::string& raw, const Field& typed, size_t count,
                      const Shape& shape, const std::string& what) {
  std::vector<T> out;
  if (!raw.empty()) {
    if (raw.size() % sizeof(T) != 0 || raw.size() / sizeof(T) != count) {
      throw Error(what + ": " + std::to_string(raw.size()) +
                  " bytes of data for shape " + to_string(shape));
    }
    out.resize(count);
    std::memcpy(out.data(), raw.data(), raw.size());
  } else {
    if (static_cast<size_t>(typed.size()) != count) {
      throw Error(what + ": " + std::to_string(typed.size()) +
                  " values for shape " + to_string(shape));
    }
    out.assign(typed.begin(), typed.end());
  }
  return out;
}

// decode<T>, widened to int64.
template <class T, class Field>
std::vector<int64_t> widened(const std::string& raw, const Field& typed,
                             size_t count, const Shape& shape,
                             const std::string& what) {
  const std::vector<T> v = decode<T>(raw, typed, count, shape, what);
  return {v.begin(), v.end()};
}

struct OnnxType {
  int onnx;
  DataType dtype;
};
constexpr OnnxType kOnnxTypes[] = {
    {onnx::TensorProto::FLOAT, DataType::kFloat32},
    {onnx::TensorProto::INT64, DataType::kInt64},
    {onnx::TensorProto::INT32, DataType::kInt32},
    {onnx::TensorProto::BOOL, DataType::kBool},
    {onnx::TensorProto::UINT8, DataType::kUint8},
    {onnx::TensorProto::INT8, DataType::kInt8},
    {onnx::TensorProto::INT16, DataType::kInt16},
    {onnx::TensorProto::UINT16, DataType::kUint16},
    {onnx::TensorProto::UINT32, DataType::kUint32},
    {onnx::TensorProto::UINT64, DataType::kUint64},
};

}  // namespace

std::optional<DataType> data_type_of_onnx(int onnx_type) {
  for (const OnnxType& t : kOnnxTypes) {
    if (t.onnx == onnx_type) return t.dtype;
  }
  return std::nullopt;
}

int onnx_type_of(DataType dtype) {
  for (const OnnxType& t : kOnnxTypes) {
    if (t.dtype == dtype) return t.onnx;
  }
  return onnx::TensorProto::UNDEFINED;
}

Constant constant_from_proto(const onnx::TensorProto& proto,
                             const std::string& what) {
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    throw Error(what +
                " keeps its data in an external file, which spruce "
                "does not read; export without external data");
  }
  Constant c;
  for (int64_t d : proto.dims()) {
    if (d < 0) throw Error(what + " has a negative dimension");
    c.shape.push_back(d);
  }
  const size_t count = element_count(c.shape);
  const std::optional<DataType> dtype = data_type_of_onnx(proto.data_type());
  if (!dtype) {
    throw Error(what + " has data type " + onnx_type_name(proto.data_type()) +
                "; spruce reads float32, integer and bool tensors");
  }
  c.dtype = *dtype;
  c.is_float = *dtype == DataType::kFloat32;
  const std::string& raw = proto.raw_data();
  if (*dtype == DataType::kFloat32) {
    c.f = decode<float>(raw, proto.float_data(), count, c.shape, what);
    return c;
  }
  // ONNX keeps 64-bit types in their own fields, unsigned 32-bit ones in
  // uint64_data, and the narrower ones (and bool) in int32_data.
  with_element_type(*dtype, [&](auto zero) {
    using T = decltype(zero);
    if (*dtype == DataType::kInt64) {
      c.i = widened<T>(raw, proto.int64_data(), count, c.shape, what);
    } else if (*dtype == DataType::kUint32 || *dtype == DataType::kUint64) {
      c.i = widened<T>(raw, proto.uint64_data(), count, c.shape, what);
    } else {
      c.i = widened<T>(raw, proto.int32_data(), count, c.shape, what);
    }
  });
  for (int64_t v : c.i) {
    if (*dtype == DataType::kBool && v != 0 && v != 1) {
      throw Error(what + " has a bool other than 0/1");
    }
    if (*dtype == DataType::kUint64 && v < 0) {
      throw Error(what + " has a uint64 beyond 2^63");
    }
  }
  return c;
}

OnnxTensorFile read_onnx_tensor(const std::string& path) {
  const std::string bytes = read_file_bytes(path, size_t{1} << 31);
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) {
    throw Error(path + ": not an ONNX TensorProto file");
  }
  Constant c = constant_from_proto(proto, path);
  OnnxTensorFile t;
  t.name = proto.name();
  t.shape = std::move(c.shape);
  t.dtype = c.dtype;
  t.floats = std::move(c.f);
  t.int64s = std::move(c.i);
  if (t.dtype != DataType::kFloat32) {
    t.elements = to_elements(t.int64s, t.dtype);
  }
  return t;
}

Tensor read_onnx_tensor_file(const std::string& path, std::string* name) {
  OnnxTensorFile t = read_onnx_tensor(path);
  if (name != nullptr) *name = t.name;
  if (t.dtype == DataType::kFloat32) {
    return Tensor(t.shape, std::move(t.floats));
  }
  // Token ids and masks: held as float, exact within ±2^24 (as .npy files).
  std::vector<float> values(t.int64s.size());
  for (size_t k = 0; k < values.size(); ++k) {
    const int64_t v = t.int64s[k];
    if (v > (int64_t{1} << 24) || v < -(int64_t{1} << 24)) {
      throw Error(path + ": value " + std::to_string(v) + " at position " +
                  std::to_string(k) + " is outside ±2^24");
    }
    values[k] = static_cast<float>(v);
  }
  return Tensor(t.shape, std::move(values));
}

}  // namespace spruce::converters
