// XXH3-64 from Debian's libxxhash: tens of GB/s, so verifying a model's
// checksum costs little next to reading it.
#include <xxhash.h>

#include "file_format.h"

namespace spruce::format {

uint64_t checksum(const void* data, size_t bytes) {
  return XXH3_64bits(data, bytes);
}

}  // namespace spruce::format
