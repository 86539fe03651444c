// spruce::Engine: load a .spruce model once, run it many times, from many
// threads at once.
#ifndef SPRUCE_ENGINE_H_
#define SPRUCE_ENGINE_H_

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "spruce/tensor.h"

namespace spruce {

struct EngineOptions {
  // OpenMP threads each run() uses; 0 = OpenMP's default (all cores, or
  // OMP_NUM_THREADS). oneDNN dense layers use the same OpenMP runtime.
  int num_threads = 0;
  // Run every layer dense with oneDNN, whatever the file stores: the baseline
  // that `spruce bench --compare-dense` measures against.
  bool force_dense = false;
  // A sparse weight runs on the sparse kernel when at least this fraction of
  // it is zero; below, it is expanded at load and runs on oneDNN, which is
  // faster there (measured crossover of the CSR kernel vs oneDNN on AVX-512,
  // worst case over N = 1..128; see bench/RESULTS.md).
  double sparse_kernel_min_sparsity = 0.8;
  // Verify the file's checksums at load. Costs one read of the file; turn off
  // only for files you produced yourself and trust.
  bool verify_checksums = true;
};

// One layer of the loaded model, as planned: what it is and how it runs.
struct LayerInfo {
  std::string name;
  std::string op;          // "Linear", "Relu", "Flatten"
  std::string storage;     // weight format in the file: "csr", "dense", "bsr"
  std::string kernel;      // what runs it: "sparse-csr", "onednn" ("-": none)
  std::string activation;  // fused activation, "" if none
  Shape weight_shape;      // [out, in] for Linear, empty otherwise
  double sparsity = 0;     // fraction of zero weights
  int index_bits = 0;      // column index width of a sparse weight
  size_t stored_bytes = 0; // weight bytes in the file (bias included)
  size_t dense_bytes = 0;  // the same weights stored dense
};

class Engine {
 public:
  // Maps `path` and checks all of it (header, checksums, schema, every offset,
  // index and shape), then plans each layer. Throws spruce::Error naming the
  // file and the problem. The file must stay unchanged while the Engine lives:
  // weights are used in place from the memory map.
  static Engine load(const std::string& path, const EngineOptions& options = {});

  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  ~Engine();

  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  const std::vector<LayerInfo>& layers() const;
  const std::map<std::string, std::string>& metadata() const;
  const std::string& path() const;

  // Runs the model. Every model input must be given once, with its declared
  // rank and static dimensions; dynamic dimensions may take any size >= 1.
  // Returns the outputs in the order of outputs().
  // Thread-safe: many threads may call run() on one Engine at once.
  // Throws spruce::Error on a bad input; the Engine stays usable.
  std::vector<Tensor> run(const std::vector<Input>& inputs) const;

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spruce

#endif  // SPRUCE_ENGINE_H_
