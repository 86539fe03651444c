// Reads and checks a .spruce file held in memory (normally a memory map).
#ifndef SPRUCE_RUNTIME_MODEL_READER_H_
#define SPRUCE_RUNTIME_MODEL_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "graph.h"

namespace spruce {

// Checks the header, the checksums (if `verify_checksums`), the FlatBuffer
// (FlatBuffers verifier) and then every offset, size, index and shape, and
// returns a Graph whose weights point into `data`. `data` must be 64-byte
// aligned and outlive the Graph. Throws spruce::Error("<path>: <problem>").
Graph read_model(const uint8_t* data, size_t size, const std::string& path,
                 bool verify_checksums);

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_MODEL_READER_H_
