// Byte layout of a .spruce file, shared by the writer (converters/) and the
// reader (runtime/).
//
//   [FileHeader, 64 bytes][Model FlatBuffer][pad to 64][blob section]
//
// Little-endian throughout; weight blobs are 64-byte aligned so a memory map of
// the file is used in place. Two XXH3-64 checksums cover the FlatBuffer and the
// blob section, so a flipped bit anywhere after the header is caught.
#ifndef SPRUCE_FORMAT_FILE_FORMAT_H_
#define SPRUCE_FORMAT_FILE_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace spruce::format {

constexpr char kMagic[8] = {'S', 'P', 'R', 'U', 'C', 'E', '\0', '\x1a'};
// Version 2 keeps each node's parameters as named attributes; the reader
// still reads version 1 files.
constexpr uint32_t kFormatVersion = 2;
constexpr uint32_t kOldestFormatVersion = 1;
constexpr size_t kBlobAlignment = 64;

struct FileHeader {
  char magic[8];
  uint32_t format_version;
  uint32_t header_bytes;      // sizeof(FileHeader)
  uint64_t metadata_offset;   // the Model FlatBuffer
  uint64_t metadata_bytes;
  uint64_t blobs_offset;      // multiple of kBlobAlignment
  uint64_t blobs_bytes;
  uint64_t metadata_checksum; // XXH3-64 of the FlatBuffer
  uint64_t blobs_checksum;    // XXH3-64 of the blob section
};
static_assert(sizeof(FileHeader) == 64, "FileHeader is 64 bytes on disk");

inline constexpr size_t align_up(size_t value, size_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

// XXH3-64 of `bytes` bytes at `data`.
uint64_t checksum(const void* data, size_t bytes);

}  // namespace spruce::format

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "spruce reads .spruce blobs in place and needs a little-endian CPU"
#endif

#endif  // SPRUCE_FORMAT_FILE_FORMAT_H_
