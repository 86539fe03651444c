// The model being converted, before it is written as a .spruce file: the
// converter's own editable form of the graph (the runtime reads the file, not
// this).
#ifndef SPRUCE_CONVERTERS_MODEL_DEF_H_
#define SPRUCE_CONVERTERS_MODEL_DEF_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "graph.h"
#include "op_params.h"
#include "spruce/kernels/spmm.h"
#include "spruce/recurrent_params.h"
#include "spruce/spatial_params.h"
#include "spruce/elementwise_ops.h"
#include "spruce/sparse_matrix.h"
#include "spruce/tensor.h"

namespace spruce::converters {

enum class WeightFormat : uint8_t { kDense = 0, kCsr = 1, kBsr = 2 };

const char* format_name(WeightFormat format);

struct WeightDef {
  std::string name;
  Shape shape;
  WeightFormat format = WeightFormat::kDense;
  std::vector<float> dense;  // kDense: all elements, row-major
  CsrMatrix csr;             // kCsr
  BsrMatrix bsr;             // kBsr

  size_t stored_bytes() const;
  size_t dense_bytes() const;
};

struct ValueDef {
  std::string name;
  Shape shape;  // -1 where dynamic
  DataType dtype = DataType::kFloat32;  // as declared; held as float
};

// A node as the runtime reads it: op, values, weights and attributes.
using NodeDef = NodeDesc;

struct ModelDef {
  std::vector<ValueDef> values;
  std::vector<WeightDef> weights;
  std::vector<NodeDef> nodes;  // execution order
  std::vector<uint32_t> inputs;
  std::vector<uint32_t> outputs;
  std::vector<std::pair<std::string, std::string>> metadata;
};

// The bytes of a .spruce file for `model` (no semantic checks: the reader
// does those, so tests can write hostile files through this too).
std::vector<uint8_t> serialize_model(const ModelDef& model);

// Writes serialize_model(model) to `path` through a temporary file and a
// rename, so an existing file is never left half-written. Returns the file's
// size in bytes. Throws spruce::Error on failure.
size_t write_model(const ModelDef& model, const std::string& path);

}  // namespace spruce::converters

#endif  // SPRUCE_CONVERTERS_MODEL_DEF_H_
