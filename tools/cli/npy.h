// NumPy .npy files (format 1.0-3.0, little-endian float32, C order) for the
// command line's inputs and outputs.
#ifndef SPRUCE_TOOLS_NPY_H_
#define SPRUCE_TOOLS_NPY_H_

#include <string>

#include "spruce/tensor.h"

namespace spruce::tools {

// Throws spruce::Error naming the file if it is not a float32 C-order .npy.
Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& tensor);

}  // namespace spruce::tools

#endif  // SPRUCE_TOOLS_NPY_H_
