// The model as the runtime sees it once a .spruce file is loaded and checked:
// values (activations), weights (views into the memory map) and nodes in
// execution order. Everything here has been validated by read_model(); the
// planner and ops trust it.
#ifndef SPRUCE_RUNTIME_GRAPH_H_
#define SPRUCE_RUNTIME_GRAPH_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attributes.h"
#include "ops/op_kind.h"
#include "spruce/elementwise_ops.h"
#include "spruce/kernels/spmm.h"
#include "spruce/recurrent_params.h"
#include "spruce/spatial_params.h"
#include "spruce/tensor.h"

namespace spruce {

enum class WeightLayout : uint8_t { kDense, kCsr, kBsr };

const char* activation_name(kernels::Activation activation);

struct ValueDesc {
  std::string name;
  Shape shape;                          // -1 where dynamic
  DataType dtype = DataType::kFloat32;  // as declared; held as float
};

struct WeightDesc {
  std::string name;
  Shape shape;
  WeightLayout layout = WeightLayout::kDense;
  const float* values = nullptr;  // dense: all elements; sparse: non-zeros
  size_t value_count = 0;
  kernels::CsrView csr;     // kCsr
  kernels::BsrView bsr;     // kBsr
  size_t stored_bytes = 0;  // all blobs of this weight

  size_t dense_count() const;  // elements of the logical dense shape
  // Fraction of zeros among the dense elements (stored zeros count as zeros).
  double sparsity() const;
  // The logical dense matrix, row-major.
  std::vector<float> to_dense() const;
};

// One node: an op, its values and weights, and its parameters by name
// (each op's file under ops/ says which it reads). The converter builds
// these too (converters::NodeDef).
struct NodeDesc {
  std::string name;
  OpKind op = OpKind::kRelu;
  // Value indices; kNoValue for an absent optional input or output.
  std::vector<uint32_t> inputs;
  std::vector<uint32_t> outputs;
  std::vector<uint32_t> weights;  // weight indices
  Attributes attrs;
};

struct Graph {
  std::string producer;
  std::vector<ValueDesc> values;
  std::vector<WeightDesc> weights;
  std::vector<NodeDesc> nodes;
  std::vector<uint32_t> inputs;
  std::vector<uint32_t> outputs;
  std::map<std::string, std::string> metadata;
};

// Largest activation tensor a model may declare or a run may create, in
// elements (8 GiB of floats): anything larger is refused before allocating.
constexpr size_t kMaxActivationElements = size_t{1} << 31;
constexpr size_t kMaxRank = 8;

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_GRAPH_H_
