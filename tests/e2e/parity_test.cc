// End to end: PyTorch-exported fixtures converted, loaded and run; outputs
// compared with PyTorch's (max relative error <= 1e-4), sparse and dense.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "spruce/converters/onnx_import.h"
#include "spruce/converters/onnx_tensor.h"
#include "spruce/spruce.h"
#include "test_util.h"

namespace spruce {
namespace {

using testing::fixture;
using testing::tensors_close;
using testing::temp_path;

class Parity : public ::testing::TestWithParam<const char*> {};

TEST_P(Parity, MatchesPyTorch) {
  const std::string name = GetParam();
  const std::string model = temp_path(name + ".spruce");
  converters::convert_onnx_file(fixture(name + "/model.onnx"), model, {});
  const Tensor x = converters::read_onnx_tensor_file(fixture(name + "/test_data_set_0/input_0.pb"));
  const Tensor expected =
      converters::read_onnx_tensor_file(fixture(name + "/test_data_set_0/output_0.pb"));
  // Every layer sparse, the default per-layer choice, every layer dense,
  // and every kernel alone (each batch on it where it applies).
  std::vector<std::pair<std::string, EngineOptions>> modes;
  EngineOptions sparse;
  sparse.kernel_selection = EngineOptions::KernelSelection::kSparsityThreshold;
  sparse.sparse_kernel_min_sparsity = 0.0;
  modes.emplace_back("sparse", sparse);
  modes.emplace_back("default", EngineOptions{});
  EngineOptions dense;
  dense.force_dense = true;
  modes.emplace_back("dense", dense);
  for (const char* kernel : {"onednn", "dense-packed", "sparse-lookup",
                             "sparse-csr", "sparse-bsr"}) {
    EngineOptions only;
    only.kernels = {kernel};
    modes.emplace_back(kernel, only);
  }
  for (auto& [mode, options] : modes) {
    for (int threads : {1, 2}) {
      options.num_threads = threads;
      const Engine engine = Engine::load(model, options);
      const auto out = engine.run({{engine.inputs()[0].name, x.data(), x.shape()}});
      ASSERT_EQ(out.size(), 1u);
      ASSERT_EQ(out[0].shape(), expected.shape());
      EXPECT_TRUE(tensors_close(out[0], expected))
          << name << " " << mode << " threads=" << threads;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Parity,
                         ::testing::Values("mlp_pruned90", "mlp_pruned90_masked",
                                           "mlp_matmul"),
                         testing::FixtureName());

TEST(Parity, EachBatchRowMatchesTheWholeBatch) {
  const std::string model = temp_path("rows.spruce");
  converters::convert_onnx_file(fixture("mlp_pruned90/model.onnx"), model, {});
  const Engine engine = Engine::load(model);
  const Tensor x = converters::read_onnx_tensor_file(fixture("mlp_pruned90/test_data_set_0/input_0.pb"));
  const Tensor expected =
      converters::read_onnx_tensor_file(fixture("mlp_pruned90/test_data_set_0/output_0.pb"));
  const size_t per_row = x.size() / x.shape()[0];
  for (int64_t b = 0; b < x.shape()[0]; ++b) {
    const auto out = engine.run({{"input", x.data() + b * per_row, {1, 8, 16}}});
    const Tensor row({1, 10}, std::vector<float>(expected.data() + b * 10, expected.data() + b * 10 + 10));
    EXPECT_TRUE(tensors_close(out[0], row)) << "row " << b;
  }
}

}  // namespace
}  // namespace spruce
