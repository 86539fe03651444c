// Conformance: ONNX's backend node tests (Debian's libonnx-testdata) for every
// operator spruce imports: each op type with an import rule
// (converters/src/onnx/rules/) brings its single-node tests here, each a test
// case named after its directory, so the list of cases run is the test
// output. The inputs a rule takes as weights (ImportRule::weight_inputs) are
// frozen from the test's files, as they are initializers in real models. A case spruce cannot run is listed in kRefused with the reason its
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

#include "onnx/importer.h"
#include "onnx_test_data.h"
#include "spruce/converters/onnx_import.h"
#include "spruce/spruce.h"
#include "test_util.h"

namespace spruce {
namespace {

using testing::tensors_close;
using testing::read_test_data;
using testing::TestData;

// Cases of those ops spruce refuses, and the words its error must contain:
// the first thing that stops it, converting (with the weight inputs frozen)
// and then reading its test data. Inside spruce every value is float32
// (int64 model inputs and shape arithmetic are held as float, exact within
// ±2^24): graph inputs of other types are refused at conversion, test data
// of other types as it is read.
const std::map<std::string, std::string> kRefused = {
    // Graph inputs of types spruce does not take.
    {"test_add_uint8", "input 'x' is of data type uint8"},
    {"test_sub_uint8", "input 'x' is of data type uint8"},
    {"test_mul_uint8", "input 'x' is of data type uint8"},
    {"test_div_uint8", "input 'x' is of data type uint8"},
    {"test_maxpool_2d_uint8", "input 'x' is of data type uint8"},
    {"test_clip_default_int8_inbounds", "input 'x' is of data type int8"},
    {"test_equal", "input 'x' is of data type int32"},
    {"test_equal_bcast", "input 'x' is of data type int32"},
    {"test_pow_types_float32_int32", "input 'y' is of data type int32"},
    {"test_pow_types_float32_uint32", "input 'y' is of data type uint32"},
    {"test_pow_types_float32_uint64", "input 'y' is of data type uint64"},
    {"test_pow_types_int32_float32", "input 'x' is of data type int32"},
    {"test_pow_types_int32_int32", "input 'x' is of data type int32"},
    {"test_where_example", "input 'condition' is of data type bool"},
    {"test_edge_pad", "input 'x' is of data type int32"},
    {"test_reflect_pad", "input 'x' is of data type int32"},
    {"test_where_long_example", "input 'condition' is of data type bool"},
    // sequence_lens is int32; the peephole refusal this case also needs is
    // tested on its own (OnnxImport.UnsupportedLstmFeaturesAreRefusedByName).
    {"test_lstm_with_peepholes",
     "input 'sequence_lens' is of data type int32"},
    {"test_cast_BFLOAT16_to_FLOAT", "input 'input' is of data type bfloat16"},
    {"test_cast_DOUBLE_to_FLOAT", "input 'input' is of data type double"},
    {"test_cast_DOUBLE_to_FLOAT16", "input 'input' is of data type double"},
    {"test_cast_FLOAT16_to_DOUBLE", "input 'input' is of data type float16"},
    {"test_cast_FLOAT16_to_FLOAT", "input 'input' is of data type float16"},
    {"test_cast_STRING_to_FLOAT", "input 'input' is of data type string"},
    {"test_castlike_BFLOAT16_to_FLOAT_expanded",
     "input 'input' is of data type bfloat16"},
    {"test_castlike_DOUBLE_to_FLOAT16_expanded",
     "input 'input' is of data type double"},
    {"test_castlike_DOUBLE_to_FLOAT_expanded",
     "input 'input' is of data type double"},
    {"test_castlike_FLOAT16_to_DOUBLE_expanded",
     "input 'input' is of data type float16"},
    {"test_castlike_FLOAT16_to_FLOAT_expanded",
     "input 'input' is of data type float16"},
    {"test_castlike_FLOAT_to_BFLOAT16_expanded",
     "input 'like' is of data type bfloat16"},
    {"test_castlike_FLOAT_to_DOUBLE_expanded",
     "input 'like' is of data type double"},
    {"test_castlike_FLOAT_to_FLOAT16_expanded",
     "input 'like' is of data type float16"},
    {"test_castlike_FLOAT_to_STRING_expanded",
     "input 'like' is of data type string"},
    {"test_castlike_STRING_to_FLOAT_expanded",
     "input 'input' is of data type string"},
    // Element types spruce does not hold yet (inputs, or the bool outputs
    // of comparisons): refused where conversion or reading meets them.
    {"test_greater", "data type bool"},
    {"test_greater_bcast", "data type bool"},
    {"test_greater_equal", "data type bool"},
    {"test_greater_equal_bcast", "data type bool"},
    {"test_less", "data type bool"},
    {"test_less_bcast", "data type bool"},
    {"test_less_equal", "data type bool"},
    {"test_less_equal_bcast", "data type bool"},
    {"test_max_float16", "data type float16"},
    {"test_max_float64", "data type double"},
    {"test_max_int16", "data type int16"},
    {"test_max_int32", "data type int32"},
    {"test_max_int8", "data type int8"},
    {"test_max_uint16", "data type uint16"},
    {"test_max_uint32", "data type uint32"},
    {"test_max_uint64", "data type uint64"},
    {"test_max_uint8", "data type uint8"},
    {"test_min_float16", "data type float16"},
    {"test_min_float64", "data type double"},
    {"test_min_int16", "data type int16"},
    {"test_min_int32", "data type int32"},
    {"test_min_int8", "data type int8"},
    {"test_min_uint16", "data type uint16"},
    {"test_min_uint32", "data type uint32"},
    {"test_min_uint64", "data type uint64"},
    {"test_min_uint8", "data type uint8"},
    {"test_mod_broadcast", "data type int32"},
    {"test_mod_mixed_sign_float16", "data type float16"},
    {"test_mod_mixed_sign_float64", "data type double"},
    {"test_mod_mixed_sign_int16", "data type int16"},
    {"test_mod_mixed_sign_int32", "data type int32"},
    {"test_mod_mixed_sign_int8", "data type int8"},
    {"test_mod_uint16", "data type uint16"},
    {"test_mod_uint32", "data type uint32"},
    {"test_mod_uint64", "data type uint64"},
    {"test_mod_uint8", "data type uint8"},
    {"test_reduce_log_sum_exp_default_axes_keepdims_example", "data type double"},
    {"test_reduce_log_sum_exp_default_axes_keepdims_random", "data type double"},
    {"test_reduce_log_sum_exp_do_not_keepdims_example", "data type double"},
    {"test_reduce_log_sum_exp_do_not_keepdims_random", "data type double"},
    {"test_reduce_log_sum_exp_keepdims_example", "data type double"},
    {"test_reduce_log_sum_exp_keepdims_random", "data type double"},
    {"test_reduce_log_sum_exp_negative_axes_keepdims_example", "data type double"},
    {"test_reduce_log_sum_exp_negative_axes_keepdims_random", "data type double"},
    // Dropout's training flag and mask are bool.
    {"test_dropout_default_mask", "the mask output"},
    {"test_dropout_default_mask_ratio", "the mask output"},
    {"test_training_dropout", "data type bool"},
    {"test_training_dropout_default", "data type bool"},
    {"test_training_dropout_default_mask", "data type bool"},
    {"test_training_dropout_mask", "data type bool"},
    {"test_training_dropout_zero_ratio", "data type bool"},
    {"test_training_dropout_zero_ratio_mask", "data type bool"},
    // Optional and sequence types.
    {"test_identity_opt", "input 'opt_in' is not a tensor"},
    {"test_identity_sequence", "input 'x' is not a tensor"},
    // Casts to types spruce does not hold: refused rather than run as a
    // no-op that would skip the rounding.
    {"test_cast_FLOAT_to_BFLOAT16", "Cast to bfloat16 is not supported"},
    {"test_cast_FLOAT_to_DOUBLE", "Cast to double is not supported"},
    {"test_cast_FLOAT_to_FLOAT16", "Cast to float16 is not supported"},
    {"test_cast_FLOAT_to_STRING", "Cast to string is not supported"},
    // Tensors of types spruce does not read: a constant's, test data.
    {"test_constantofshape_int_shape_zero",
     "ConstantOfShape_0 has data type int32"},
    {"test_constantofshape_int_zeros", "ConstantOfShape_0 has data type int32"},
    {"test_clip_default_int8_max", "input_1.pb has data type int8"},
    {"test_clip_default_int8_min", "input_1.pb has data type int8"},
    // Graphs spruce runs only as parts of larger ones: shapes and constants
    // are evaluated at conversion, and an output must come from the inputs.
    {"test_constant", "model has no non-constant inputs"},
    {"test_shape", "computed from tensor shapes"},
    {"test_shape_clip_end", "computed from tensor shapes"},
    {"test_shape_clip_start", "computed from tensor shapes"},
    {"test_shape_end_1", "computed from tensor shapes"},
    {"test_shape_end_negative_1", "computed from tensor shapes"},
    {"test_shape_example", "computed from tensor shapes"},
    {"test_shape_start_1", "computed from tensor shapes"},
    {"test_shape_start_1_end_2", "computed from tensor shapes"},
    {"test_shape_start_1_end_negative_1", "computed from tensor shapes"},
    {"test_shape_start_negative_1", "computed from tensor shapes"},
    {"test_constantofshape_float_ones", "only a fill value of 0"},
    // Features of supported ops that are not.
    {"test_averagepool_1d_default", "only 2-D"},
    {"test_averagepool_3d_default", "only 2-D"},
    {"test_maxpool_1d_default", "only 2-D"},
    {"test_maxpool_3d_default", "only 2-D"},
    {"test_maxpool_with_argmax_2d_precomputed_pads", "Indices output"},
    {"test_maxpool_with_argmax_2d_precomputed_strides", "Indices output"},
    {"test_batchnorm_epsilon_training_mode", "training"},
    {"test_batchnorm_example_training_mode", "training"},
    {"test_gemm_all_attributes", "transA"},
    {"test_gemm_transposeA", "transA"},
    {"test_gemm_default_matrix_bias", "per-feature"},
    // Gather reads embedding tables: rows (axis 0) only.
    {"test_gather_1", "only axis 0"},
    {"test_gather_2d_indices", "only axis 0"},
    // Pad runs only where it adds nothing (PyTorch's before AvgPool2d).
    {"test_constant_pad", "only a Pad that adds nothing"},
    // Zero-size tensors.
    {"test_reshape_allowzero_reordered", "size 0"},
    {"test_slice_start_out_of_bounds", "is empty"},
    {"test_split_zero_size_splits", "zero-size"},
};

struct NodeCase {
  std::string name;
  std::string op;
};

// gtest prints a case as its name, not as the bytes of the struct.
void PrintTo(const NodeCase& c, std::ostream* out) { *out << c.name; }

// The names of a test model's graph inputs, in order (initializers aside).
std::vector<std::string> graph_inputs(const std::string& dir) {
  std::ifstream file(dir + "/model.onnx", std::ios::binary);
  onnx::ModelProto model;
  if (!file || !model.ParseFromIstream(&file)) return {};
  std::set<std::string> initializers;
  for (const auto& t : model.graph().initializer()) initializers.insert(t.name());
  std::vector<std::string> names;
  for (const auto& in : model.graph().input()) {
    if (initializers.count(in.name()) == 0) names.push_back(in.name());
  }
  return names;
}

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
    if (converters::import_rule(op) != nullptr) {
      cases.push_back({entry.path().filename().string(), op});
    }
  }
  std::sort(
      cases.begin(), cases.end(),
      [](const NodeCase& a, const NodeCase& b) { return a.name < b.name; });
  return cases;
}

// Single-node cases of the imported ops in libonnx-testdata 1.12.
constexpr size_t kExpectedCases = 260;

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
  const std::vector<int>& w = converters::import_rule(c.op)->weight_inputs;
  const std::set<int> weights(w.begin(), w.end());
  const auto refused = kRefused.find(c.name);
  const int sets = testing::count_test_data_sets(dir);
  ASSERT_GT(sets, 0) << dir;
  // A refused case must fail with its reason at the first step that fails:
  // conversion (weights frozen from their files, the graph's own inputs
  // and types checked), then reading its inputs and outputs.
  if (refused != kRefused.end()) {
    try {
      converters::ConvertOptions convert;
      const std::vector<std::string> inputs = graph_inputs(dir);
      for (size_t k = 0; k < inputs.size(); ++k) {
        if (weights.count(static_cast<int>(k)) != 0) {
          convert.constant_inputs[inputs[k]] =
              dir + "/test_data_set_0/input_" + std::to_string(k) + ".pb";
        }
      }
      converters::convert_onnx_file(
          dir + "/model.onnx", testing::temp_path(c.name + ".spruce"), convert);
      read_test_data(dir, 0);
      FAIL() << c.name << " converts and reads now; remove it from kRefused";
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
          EXPECT_EQ(engine.outputs()[k].name, data.output_names[k]);
          ASSERT_EQ(out[k].shape(), data.outputs[k].shape())
              << data.output_names[k];
          EXPECT_TRUE(tensors_close(out[k], data.outputs[k]))
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
