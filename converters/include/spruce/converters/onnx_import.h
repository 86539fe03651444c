// ONNX → spruce: import what torch.onnx.export emits for MLPs (Gemm,
// MatMul + Add, Relu, Flatten) and LSTMs (LSTM with the Transpose / Reshape /
// Squeeze / Slice / Concat around it), fold constants (including
// weight_orig * weight_mask left by torch.nn.utils.prune), fuse bias and ReLU
// into Linear, and choose each weight's storage format.
#ifndef SPRUCE_CONVERTERS_ONNX_IMPORT_H_
#define SPRUCE_CONVERTERS_ONNX_IMPORT_H_

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "spruce/converters/model_def.h"

namespace spruce::converters {

struct ConvertOptions {
  // A Linear weight with at least this fraction of zeros is stored CSR (when
  // that is also smaller than dense); below it, dense. Storage only: the
  // engine decides at load which kernel runs each layer.
  double sparse_threshold = 0.4;
  // Keep every weight dense (for comparisons).
  bool dense = false;
  // Block-sparse storage. With block_rows = block_cols = 0 (auto), a sparse
  // weight whose non-zeros fill at least `min_block_fill` of the blocks that
  // hold them, for one of kernels::kBlockShapes (largest first) that
  // divides its sides, is stored BSR with that shape: it was block-pruned.
  // A given shape forces BSR with it wherever it divides the sides and the
  // result is smaller than dense. `block_sparse = false` never stores BSR.
  bool block_sparse = true;
  // CSR storage; false keeps a sparse weight that is not stored BSR dense.
  bool allow_csr = true;
  size_t block_rows = 0;
  size_t block_cols = 0;
  double min_block_fill = 0.9;
  // Graph inputs to freeze as constants: input name → file holding a
  // serialized onnx.TensorProto (the test_data_set_*/input_*.pb files of
  // ONNX's backend tests, which pass weights as inputs).
  std::map<std::string, std::string> constant_inputs;
};

struct LayerReport {
  std::string node;
  std::string weight;
  Shape shape;
  double sparsity = 0;
  WeightFormat format = WeightFormat::kDense;
  size_t block_rows = 0;  // kBsr only
  size_t block_cols = 0;
  size_t dense_bytes = 0;
  size_t stored_bytes = 0;
};

struct ConversionReport {
  std::vector<LayerReport> layers;
  std::vector<std::string> folded;  // what constant folding and fusion did
  size_t onnx_file_bytes = 0;
  size_t spruce_file_bytes = 0;  // set by convert_onnx_file()
};

// Imports the ONNX model at `path`. Throws spruce::Error naming the file and
// the problem: not ONNX, an unsupported op (with its node name), an
// unsupported attribute or shape.
ModelDef import_onnx(const std::string& path, const ConvertOptions& options,
                     ConversionReport* report);

// How often each op type occurs in the ONNX model at `path` and whether
// spruce converts it (support of an op's every attribute and shape is only
// known by converting). Sorted by op type; non-standard domains are named
// "domain.Op" and unsupported.
struct OnnxOpCount {
  std::string op;
  size_t count = 0;
  bool supported = false;
};
std::vector<OnnxOpCount> onnx_op_summary(const std::string& path);

// import_onnx() then write_model().
ConversionReport convert_onnx_file(const std::string& onnx_path,
                                   const std::string& spruce_path,
                                   const ConvertOptions& options);

}  // namespace spruce::converters

#endif  // SPRUCE_CONVERTERS_ONNX_IMPORT_H_
