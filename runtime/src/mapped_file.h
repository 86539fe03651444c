// A read-only memory map of a whole file.
#ifndef SPRUCE_RUNTIME_MAPPED_FILE_H_
#define SPRUCE_RUNTIME_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace spruce {

class MappedFile {
 public:
  // Maps `path` read-only; throws spruce::Error if it cannot be opened, is not
  // a regular file, or cannot be mapped. An empty file maps to size() == 0.
  static MappedFile open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void reset();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_MAPPED_FILE_H_
