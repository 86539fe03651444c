// Conformance: ONNX's backend node tests (Debian's libonnx-testdata) for every
// operator spruce imports. Each single-node test of a supported op is a test
// case here, named after its directory, so the list of cases run is the test
// output. A case spruce cannot run is listed in kRefused with the reason its
// conversion must give: it is checked to fail with that reason, so a case that
// starts or stops being supported shows up, and nothing is skipped silently.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "onnx_test_data.h"
#include "spruce/converters/onnx_import.h"
#include "spruce/spruce.h"
#include "test_util.h"

namespace spruce {
namespace {

using testing::max_relative_error;
using testing::read_test_data;
using testing::TestData;

// Inputs each op takes as weights: the tests pass them as graph inputs; they
// are frozen as the initializers they are in real models.
const std::map<std::string, std::set<int>> kWeightInputs = {
    {"Conv", {1, 2}},
    {"BatchNormalization", {1, 2, 3, 4}},
    {"Clip", {1, 2}},
    {"Gemm", {1, 2}},
    {"MatMul", {1}},
    {"LSTM", {1, 2, 3}},
    {"Add", {}},
    {"Relu", {}},
    {"Flatten", {}},
    {"Concat", {}},
    {"MaxPool", {}},
    {"AveragePool", {}},
    {"GlobalAveragePool", {}},
    // Transformer encoders.
    {"Sub", {}},
    {"Mul", {}},
    {"Div", {}},
    {"Pow", {}},
    {"Sqrt", {}},
    {"ReduceMean", {}},
    {"LayerNormalization", {1, 2}},
    {"Softmax", {}},
    {"Erf", {}},
    {"Tanh", {}},
    {"Reshape", {1}},
    {"Transpose", {}},
    {"Unsqueeze", {1}},
    {"Squeeze", {1}},
    {"Gather", {0}},
    {"Slice", {1, 2, 3, 4}},
    {"Split", {1}},
    {"Expand", {1}},
    {"Identity", {}},
    {"Where", {}},
    {"Equal", {}},
    {"Cast", {}},
};

// Cases of those ops spruce refuses, and the words its error must contain.
// Inside spruce every value is float32 (int64 model inputs and shape
// arithmetic are held as float, exact within ±2^24): tests whose inputs or
// outputs are other types are refused as their data is read.
const std::map<std::string, std::string> kRefused = {
    {"test_add_uint8", "data type 2"},
    {"test_sub_uint8", "data type 2"},
    {"test_mul_uint8", "data type 2"},
    {"test_div_uint8", "data type 2"},
    {"test_averagepool_1d_default", "only 2-D"},
    {"test_averagepool_3d_default", "only 2-D"},
    {"test_maxpool_1d_default", "only 2-D"},
    {"test_maxpool_3d_default", "only 2-D"},
    {"test_maxpool_2d_uint8", "data type 2"},
    {"test_maxpool_with_argmax_2d_precomputed_pads", "Indices output"},
    {"test_maxpool_with_argmax_2d_precomputed_strides", "Indices output"},
    {"test_batchnorm_epsilon_training_mode", "training"},
    {"test_batchnorm_example_training_mode", "training"},
    {"test_clip_default_int8_inbounds", "data type 3"},
    {"test_clip_default_int8_max", "data type 3"},
    {"test_clip_default_int8_min", "data type 3"},
    {"test_gemm_all_attributes", "transA"},
    {"test_gemm_transposeA", "transA"},
    {"test_gemm_default_matrix_bias", "per-feature"},
    {"test_lstm_with_peepholes", "data type 6"},
    // Casts between types spruce does not hold (bfloat16, float16, double,
    // string): the data itself is refused.
    {"test_cast_BFLOAT16_to_FLOAT", "data type 4"},
    {"test_cast_DOUBLE_to_FLOAT", "data type 11"},
    {"test_cast_DOUBLE_to_FLOAT16", "data type 11"},
    {"test_cast_FLOAT16_to_DOUBLE", "data type 10"},
    {"test_cast_FLOAT16_to_FLOAT", "data type 10"},
    {"test_cast_FLOAT_to_BFLOAT16", "data type 4"},
    {"test_cast_FLOAT_to_DOUBLE", "data type 11"},
    {"test_cast_FLOAT_to_FLOAT16", "data type 10"},
    {"test_cast_FLOAT_to_STRING", "data type 8"},
    {"test_cast_STRING_to_FLOAT", "data type 8"},
    {"test_castlike_BFLOAT16_to_FLOAT_expanded", "data type 4"},
    {"test_castlike_DOUBLE_to_FLOAT16_expanded", "data type 11"},
    {"test_castlike_DOUBLE_to_FLOAT_expanded", "data type 11"},
    {"test_castlike_FLOAT16_to_DOUBLE_expanded", "data type 10"},
    {"test_castlike_FLOAT16_to_FLOAT_expanded", "data type 10"},
    {"test_castlike_FLOAT_to_BFLOAT16_expanded", "data type 4"},
    {"test_castlike_FLOAT_to_DOUBLE_expanded", "data type 11"},
    {"test_castlike_FLOAT_to_FLOAT16_expanded", "data type 10"},
    {"test_castlike_FLOAT_to_STRING_expanded", "data type 8"},
    {"test_castlike_STRING_to_FLOAT_expanded", "data type 8"},
    // int32 and unsigned operands; bool model inputs (Where's condition,
    // which spruce computes inside a model, from Equal, but does not take in).
    {"test_equal", "data type 6"},
    {"test_equal_bcast", "data type 6"},
    {"test_pow_types_float32_int32", "data type 6"},
    {"test_pow_types_float32_uint32", "data type 12"},
    {"test_pow_types_float32_uint64", "data type 13"},
    {"test_pow_types_int32_float32", "data type 6"},
    {"test_pow_types_int32_int32", "data type 6"},
    {"test_where_example", "data type 9"},
    {"test_where_long_example", "data type 9"},
    // Optional and sequence types (the file is not a TensorProto).
    {"test_identity_opt", "data type 3"},
    {"test_identity_sequence", "values for shape"},
    // Gather reads embedding tables: rows (axis 0) only.
    {"test_gather_1", "only axis 0"},
    {"test_gather_2d_indices", "only axis 0"},
    // Zero-size tensors.
    {"test_reshape_allowzero_reordered", "size 0"},
    {"test_slice_start_out_of_bounds", "is empty"},
    {"test_split_zero_size_splits", "zero-size"},
};

struct NodeCase {
  std::string name;
  std::string op;
};

std::vector<NodeCase> node_cases() {
  std::vector<NodeCase> cases;
  const std::filesystem::path root(SPRUCE_ONNX_NODE_TESTS);
  if (!std::filesystem::exists(root)) return cases;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    std::ifstream file(entry.path() / "model.onnx", std::ios::binary);
    onnx::ModelProto model;
    if (!file || !model.ParseFromIstream(&file)) continue;
    if (model.graph().node_size() != 1) continue;
    const std::string& op = model.graph().node(0).op_type();
    if (kWeightInputs.count(op) != 0) {
      cases.push_back({entry.path().filename().string(), op});
    }
  }
  std::sort(
      cases.begin(), cases.end(),
      [](const NodeCase& a, const NodeCase& b) { return a.name < b.name; });
  return cases;
}

// Single-node cases of the ops above in libonnx-testdata 1.12.
constexpr size_t kExpectedCases = 234;

class OnnxNodeTest : public ::testing::TestWithParam<NodeCase> {};

TEST(OnnxNodeTests, TestDataIsInstalled) {
  ASSERT_TRUE(std::filesystem::exists(SPRUCE_ONNX_NODE_TESTS))
      << SPRUCE_ONNX_NODE_TESTS << " missing: tools/setup.sh installs "
      << "libonnx-testdata";
  // The count in libonnx-testdata 1.12 (Debian 12); fewer means files are
  // missing, not that ops lost support.
  EXPECT_GE(node_cases().size(), kExpectedCases);
}

TEST_P(OnnxNodeTest, Conforms) {
  const NodeCase& c = GetParam();
  const std::string dir = std::string(SPRUCE_ONNX_NODE_TESTS) + "/" + c.name;
  const std::set<int>& weights = kWeightInputs.at(c.op);
  const auto refused = kRefused.find(c.name);
  const int sets = testing::count_test_data_sets(dir);
  ASSERT_GT(sets, 0) << dir;
  // Non-float test data (int8, uint8, argmax indices) is refused as it is read.
  if (refused != kRefused.end()) {
    try {
      const TestData data = read_test_data(dir, 0);
      converters::ConvertOptions convert;
      for (size_t k = 0; k < data.input_names.size(); ++k) {
        if (weights.count(static_cast<int>(k)) != 0) {
          convert.constant_inputs[data.input_names[k]] = data.input_files[k];
        }
      }
      converters::convert_onnx_file(
          dir + "/model.onnx", testing::temp_path(c.name + ".spruce"), convert);
      FAIL() << c.name << " converts now; remove it from kRefused";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(refused->second), std::string::npos)
          << e.what();
      std::cout << "[ refused  ] " << c.name << ": " << e.what() << "\n";
    }
    return;
  }
  for (int s = 0; s < sets; ++s) {
    const TestData data = read_test_data(dir, s);
    converters::ConvertOptions convert;
    std::vector<Input> given;
    for (size_t k = 0; k < data.input_names.size(); ++k) {
      if (weights.count(static_cast<int>(k)) != 0) {
        convert.constant_inputs[data.input_names[k]] = data.input_files[k];
      } else {
        given.push_back(testing::as_input(data.inputs[k]));
      }
    }
    const std::string path = testing::temp_path(c.name + ".spruce");
    converters::convert_onnx_file(dir + "/model.onnx", path, convert);
    for (const bool dense : {false, true}) {
      for (const int threads : {1, 2}) {
        SCOPED_TRACE(std::string(dense ? "onednn" : "measured") + " threads=" +
                     std::to_string(threads) + " set " + std::to_string(s));
        EngineOptions options;
        options.force_dense = dense;
        options.num_threads = threads;
        const Engine engine = Engine::load(path, options);
        const std::vector<Tensor> out = engine.run(given);
        ASSERT_EQ(out.size(), data.outputs.size());
        for (size_t k = 0; k < out.size(); ++k) {
          ASSERT_EQ(out[k].shape(), data.outputs[k].shape())
              << data.output_names[k];
          EXPECT_LE(max_relative_error(out[k], data.outputs[k]), 1e-4)
              << data.output_names[k];
        }
      }
    }
  }
  std::cout << "[ conforms ] " << c.name << "\n";
}

INSTANTIATE_TEST_SUITE_P(Node, OnnxNodeTest, ::testing::ValuesIn(node_cases()),
                         [](const ::testing::TestParamInfo<NodeCase>& param) {
                           return param.param.name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OnnxNodeTest);

}  // namespace
}  // namespace spruce
