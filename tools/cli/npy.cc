// Minimal .npy reader/writer: float32, C order, little-endian only, which is
// what numpy.save writes for the arrays spruce consumes and produces.
#include "npy.h"

#include <cstring>
#include <fstream>
#include <regex>

#include "spruce/error.h"

namespace spruce::tools {
namespace {
constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMaxHeaderBytes = 1 << 16;
}  // namespace

Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  char magic[6];
  uint8_t version[2];
  in.read(magic, 6);
  in.read(reinterpret_cast<char*>(version), 2);
  if (!in || std::memcmp(magic, kMagic, 6) != 0) {
    throw Error(path + ": not a NumPy .npy file");
  }
  size_t header_bytes = 0;
  if (version[0] == 1) {
    uint8_t len[2];
    in.read(reinterpret_cast<char*>(len), 2);
    header_bytes = len[0] | (size_t{len[1]} << 8);
  } else if (version[0] == 2 || version[0] == 3) {
    uint8_t len[4];
    in.read(reinterpret_cast<char*>(len), 4);
    header_bytes = len[0] | (size_t{len[1]} << 8) | (size_t{len[2]} << 16) |
                   (size_t{len[3]} << 24);
  } else {
    throw Error(path + ": unsupported .npy version " +
                std::to_string(version[0]));
  }
  if (!in || header_bytes > kMaxHeaderBytes) {
    throw Error(path + ": corrupt .npy header");
  }
  std::string header(header_bytes, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_bytes));
  if (!in) throw Error(path + ": truncated .npy header");

  // The header's dict, without the padding and newline that end it.
  const std::string dict = header.substr(0, header.find_last_not_of(" \n") + 1);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([^']*)'")) ||
      (m[1] != "<f4" && m[1] != "=f4" && m[1] != "<i8" && m[1] != "=i8")) {
    throw Error(path + ": .npy dtype must be float32 ('<f4') or int64 "
                "('<i8'), header: " + dict);
  }
  const bool int64 = m[1] == "<i8" || m[1] == "=i8";
  const size_t element_bytes = int64 ? 8 : 4;
  if (std::regex_search(header, m,
                        std::regex("'fortran_order':\\s*(True|False)")) &&
      m[1] == "True") {
    throw Error(path + ": Fortran-order arrays are not supported");
  }
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) {
    throw Error(path + ": .npy header has no shape");
  }
  Shape shape;
  const std::string dims = m[1];
  const std::regex number("\\d+");
  // Bytes the shape needs, checked: a header's sizes can multiply past
  // 64 bits, and only a shape the file's data fills is allocated.
  uint64_t bytes = element_bytes;
  bool overflow = false;
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number);
       it != std::sregex_iterator(); ++it) {
    uint64_t d = 0;
    const std::string digits = it->str();
    overflow = overflow || digits.size() > 18;
    if (!overflow) d = std::stoull(digits);
    overflow = overflow || __builtin_mul_overflow(bytes, d, &bytes);
    shape.push_back(overflow ? 0 : static_cast<int64_t>(d));
  }
  if (overflow) {
    throw Error(path + ": .npy shape (" + dims + ") is too large");
  }
  const size_t count = bytes / element_bytes;
  const std::streamoff data_start = in.tellg();
  in.seekg(0, std::ios::end);
  const std::streamoff data_bytes = in.tellg() - data_start;
  if (data_bytes < 0 || static_cast<uint64_t>(data_bytes) != bytes) {
    throw Error(path + ": " + std::to_string(data_bytes) +
                " bytes of data for shape " + to_string(shape) +
                " (truncated file?)");
  }
  in.seekg(data_start);
  std::vector<float> data(count);
  if (int64) {
    // Token ids and masks: held as float, exact within ±2^24.
    std::vector<int64_t> ints(count);
    in.read(reinterpret_cast<char*>(ints.data()),
            static_cast<std::streamsize>(count * sizeof(int64_t)));
    for (size_t k = 0; k < count; ++k) {
      if (ints[k] > (int64_t{1} << 24) || ints[k] < -(int64_t{1} << 24)) {
        throw Error(path + ": value " + std::to_string(ints[k]) +
                    " is outside ±2^24");
      }
      data[k] = static_cast<float>(ints[k]);
    }
  } else {
    in.read(reinterpret_cast<char*>(data.data()),
            static_cast<std::streamsize>(count * sizeof(float)));
  }
  if (!in) throw Error(path + ": read failed");
  return Tensor(std::move(shape), std::move(data));
}

void write_npy(const std::string& path, const Tensor& tensor) {
  std::string shape;
  for (int64_t d : tensor.shape()) shape += std::to_string(d) + ", ";
  if (tensor.shape().size() > 1) shape.erase(shape.size() - 2);
  if (tensor.shape().size() == 1) shape.erase(shape.size() - 1);
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       shape + "), }";
  // Magic (6) + version (2) + length (2) + header + '\n', padded to 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path + ": cannot write: " + std::strerror(errno));
  const uint8_t version[2] = {1, 0};
  const uint8_t len[2] = {static_cast<uint8_t>(header.size() & 0xff),
                          static_cast<uint8_t>(header.size() >> 8)};
  out.write(kMagic, 6);
  out.write(reinterpret_cast<const char*>(version), 2);
  out.write(reinterpret_cast<const char*>(len), 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(tensor.data()),
            static_cast<std::streamsize>(tensor.size() * sizeof(float)));
  if (!out) throw Error(path + ": write failed");
}

}  // namespace spruce::tools
