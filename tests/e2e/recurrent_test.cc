// Recurrent layers end to end, converted, loaded with every kernel choice
// (spruce's steps loop, the timed choice, oneDNN's primitive) and run on
// PyTorch nn.LSTM, nn.GRU and nn.RNN fixtures (tools/make_fixtures.py):
// PyTorch's gate orders as its exporter rewrites them, with the Transpose /
// Reshape / Slice / Concat / zero-state subgraphs it wraps around each
// layer; and ONNX's GRU and RNN node tests (the GRU's other candidate form,
// batch-major layout) in every mode. ONNX's node tests also run, in the
// default mode, in onnx_node_test.cc with the other ops.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "hwy/targets.h"
#include "onnx_test_data.h"
#include "spruce/converters/onnx_import.h"
#include "spruce/converters/onnx_tensor.h"
#include "spruce/spruce.h"
#include "test_util.h"

namespace spruce {
namespace {

using testing::fixture;
using testing::read_test_data;
using testing::temp_path;
using testing::tensors_close;
using testing::TestData;

struct Mode {
  const char* name;
  EngineOptions options;
};

// spruce's steps loop for every batch, the per-layer choice by timing, and
// oneDNN's primitive for every batch; each on 1 and 2 threads.
std::vector<Mode> modes() {
  std::vector<Mode> all;
  for (int threads : {1, 2}) {
    Mode steps{"steps", {}};
    steps.options.kernel_selection =
        EngineOptions::KernelSelection::kSparsityThreshold;
    steps.options.sparse_kernel_min_sparsity = 0.0;
    // Without oneDNN a dense layer (ONNX's node tests) runs the loop too.
    steps.options.kernels = {"sparse-csr", "sparse-bsr", "sparse-lookup",
                             "dense-packed"};
    Mode measured{"measured", {}};
    // Dense with the threshold rule: oneDNN's primitive, never timed
    // against the dense steps loop.
    Mode dense{"onednn", {}};
    dense.options.force_dense = true;
    dense.options.kernel_selection =
        EngineOptions::KernelSelection::kSparsityThreshold;
    for (Mode m : {steps, measured, dense}) {
      m.options.num_threads = threads;
      all.push_back(m);
    }
  }
  return all;
}

// Converts `model` (freezing the inputs in `frozen` from their .pb files),
// runs it on the remaining inputs of `data` in every mode and compares every
// output with `data`'s.
void ExpectMatchesTestData(const std::string& model, const TestData& data,
                           const std::vector<std::string>& frozen) {
  converters::ConvertOptions convert;
  std::vector<Input> given;
  for (size_t k = 0; k < data.input_names.size(); ++k) {
    const std::string& name = data.input_names[k];
    if (std::find(frozen.begin(), frozen.end(), name) != frozen.end()) {
      convert.constant_inputs[name] = data.input_files[k];
    } else {
      given.push_back(testing::as_input(data.inputs[k]));
    }
  }
  const std::string path =
      temp_path(std::filesystem::path(model).parent_path().filename().string() +
                ".spruce");
  converters::convert_onnx_file(model, path, convert);
  for (const Mode& mode : modes()) {
    SCOPED_TRACE(std::string(mode.name) +
                 " threads=" + std::to_string(mode.options.num_threads));
    const Engine engine = Engine::load(path, mode.options);
    // Its recurrent layers run what the mode names.
    for (const LayerInfo& layer : engine.layers()) {
      if (layer.op != "LSTM" && layer.op != "GRU" && layer.op != "RNN") {
        continue;
      }
      const std::string kernel = layer.kernels.at(0).kernel;
      if (std::string(mode.name) == "steps") {
        EXPECT_EQ(kernel.rfind("steps(", 0), 0u)
            << layer.name << ": " << kernel;
      } else if (std::string(mode.name) == "onednn") {
        EXPECT_EQ(kernel.rfind("onednn-", 0), 0u)
            << layer.name << ": " << kernel;
      }
    }
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

class TorchFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchFixture, MatchesPyTorch) {
  const std::string dir = fixture(GetParam());
  ExpectMatchesTestData(dir + "/model.onnx", read_test_data(dir), {});
}

// cnn_pruned90, bert_tiny_pruned90 and the architecture fixtures run the
// same modes: every pruned Conv or Linear on the sparse kernels, the timed
// choice, and everything on oneDNN. The BERT fixture has int64 inputs and
// padded positions; the decoders (exported with dynamic batch and sequence,
// folded and not) and the Conv1d keyword spotter (dynamic batch) run at a
// shape other than the one they were exported at.
INSTANTIATE_TEST_SUITE_P(
    Fixtures, TorchFixture,
    ::testing::Values("lstm_pruned90", "lstm_pruned90_zero_state",
                      "lstm_pruned90_unfolded", "gru_pruned90",
                      "rnn_relu_pruned90", "cnn_pruned90", "bert_tiny_pruned90",
                      "decoder_dynamic", "decoder_dynamic_unfolded",
                      "encoder_prenorm_dynamic",
                      "encoder_prenorm_dynamic_unfolded", "vit_dynamic",
                      "shuffle_unit_dynamic", "kws_conv1d"),
    testing::FixtureName());

// The same fixtures with Highway's dispatch pinned to each SIMD target the
// CPU has (AVX-512, AVX2, SSE4 on x86; NEON, SVE on Arm), every sparse layer
// on spruce's kernels: each target agrees with PyTorch.
TEST(TorchFixtureTargets, EverySimdTargetMatchesPyTorch) {
  const int64_t candidates[] = {HWY_AVX3, HWY_AVX2, HWY_SSE4, HWY_SVE,
                                HWY_NEON};
  int targets_run = 0;
  const int64_t available = hwy::SupportedTargets();  // before any pinning
  for (int64_t target : candidates) {
    if ((available & target) == 0) continue;
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(std::string("target ") + hwy::TargetName(target));
    for (const char* name :
         {"cnn_pruned90", "bert_tiny_pruned90", "lstm_pruned90", "gru_pruned90",
          "rnn_relu_pruned90"}) {
      SCOPED_TRACE(name);
      const std::string dir = fixture(name);
      const TestData data = read_test_data(dir);
      const std::string path = temp_path(std::string(name) + "_target.spruce");
      converters::convert_onnx_file(dir + "/model.onnx", path, {});
      EngineOptions options;
      options.num_threads = 1;
      options.kernel_selection =
          EngineOptions::KernelSelection::kSparsityThreshold;
      options.sparse_kernel_min_sparsity = 0.0;
      const Engine engine = Engine::load(path, options);
      std::vector<Input> given;
      for (const auto& input : data.inputs)
        given.push_back(testing::as_input(input));
      const std::vector<Tensor> out = engine.run(given);
      for (size_t k = 0; k < out.size(); ++k) {
        EXPECT_TRUE(tensors_close(out[k], data.outputs[k]))
            << data.output_names[k];
      }
    }
    ++targets_run;
  }
  hwy::SetSupportedTargetsForTest(0);  // back to the CPU's own
  std::cout << "[ targets  ] " << targets_run << " SIMD targets compared\n";
  EXPECT_GE(targets_run, 1);
}

// ONNX's GRU and RNN node tests (weights as inputs, frozen into constants):
// linear_before_reset = 0, batch-major layout, initial biases, RNN's tanh.
class OnnxRecurrentCase : public ::testing::TestWithParam<const char*> {};

TEST_P(OnnxRecurrentCase, MatchesInEveryMode) {
  const std::string dir =
      std::string(SPRUCE_ONNX_NODE_TESTS) + "/" + GetParam();
  ExpectMatchesTestData(dir + "/model.onnx", read_test_data(dir),
                        {"W", "R", "B"});
}

INSTANTIATE_TEST_SUITE_P(
    Node, OnnxRecurrentCase,
    ::testing::Values("test_gru_defaults", "test_gru_with_initial_bias",
                      "test_gru_seq_length", "test_gru_batchwise",
                      "test_simple_rnn_defaults", "test_simple_rnn_batchwise",
                      "test_rnn_seq_length"),
    testing::FixtureName());

// Each batch row run alone (the batch-1 kernel choice) gives that row of the
// whole batch's result (the wide choice), and a shorter sequence runs too:
// batch and sequence length are dynamic without re-converting.
TEST(TorchLstm, BatchRowsAloneMatchTheWholeBatch) {
  const std::string dir = fixture("lstm_pruned90_zero_state");
  const TestData data = read_test_data(dir);
  const std::string path = temp_path("lstm_rows.spruce");
  converters::convert_onnx_file(dir + "/model.onnx", path, {});
  const Tensor x = converters::read_onnx_tensor_file(data.input_files[0]);
  const int64_t batch = x.shape()[0], seq = x.shape()[1], in = x.shape()[2];
  const Tensor& y = data.outputs[0];  // [batch, seq, 2H]
  const int64_t width = y.shape()[2];
  // The first two steps of every sequence: no reference output for them in
  // the fixture, so every mode must agree with the first (and the shape).
  std::vector<float> first_steps;
  for (int64_t b = 0; b < batch; ++b) {
    first_steps.insert(first_steps.end(), x.data() + b * seq * in,
                       x.data() + b * seq * in + 2 * in);
  }
  std::vector<Tensor> short_runs;  // the first mode's
  for (const Mode& mode : modes()) {
    const Engine engine = Engine::load(path, mode.options);
    for (int64_t b = 0; b < batch; ++b) {
      const auto out =
          engine.run({{"x", x.data() + b * seq * in, {1, seq, in}}});
      ASSERT_EQ(out.size(), data.outputs.size());
      const Tensor row({1, seq, width},
                       std::vector<float>(y.data() + b * seq * width,
                                          y.data() + (b + 1) * seq * width));
      EXPECT_TRUE(tensors_close(out[0], row)) << mode.name << " row " << b;
    }
    const auto short_run =
        engine.run({{"x", first_steps.data(), {batch, 2, in}}});
    ASSERT_EQ(short_run.size(), data.outputs.size());
    EXPECT_EQ(short_run[0].shape(), (Shape{batch, 2, width}));
    if (short_runs.empty()) {
      short_runs = short_run;
      continue;
    }
    for (size_t k = 0; k < short_run.size(); ++k) {
      EXPECT_TRUE(tensors_close(short_run[k], short_runs[k]))
          << mode.name << " output " << k << " on two steps, against "
          << modes().front().name;
    }
  }
}

// A wrong initial state is refused with the node and the expected shape,
// and the engine keeps working.
TEST(TorchLstm, WrongStateShapeIsAClearError) {
  const std::string dir = fixture("lstm_pruned90");
  const TestData data = read_test_data(dir);
  const std::string path = temp_path("lstm_state.spruce");
  converters::convert_onnx_file(dir + "/model.onnx", path, {});
  const Engine engine = Engine::load(path);
  const Tensor x = converters::read_onnx_tensor_file(data.input_files[0]);
  const Tensor h0 = converters::read_onnx_tensor_file(data.input_files[1]);
  const Tensor c0 = converters::read_onnx_tensor_file(data.input_files[2]);
  // h0 for a batch of 2 while x has 3.
  const Shape x_shape = x.shape();
  const Shape short_state = {h0.shape()[0], 2, h0.shape()[2]};
  try {
    engine.run({{"x", x.data(), x_shape},
                {"h0", h0.data(), short_state},
                {"c0", c0.data(), short_state}});
    FAIL() << "ran with a mismatched batch";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("batch size"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("LSTM node"), std::string::npos)
        << e.what();
  }
  const auto out = engine.run({{"x", x.data(), x.shape()},
                               {"h0", h0.data(), h0.shape()},
                               {"c0", c0.data(), c0.shape()}});
  EXPECT_TRUE(tensors_close(out[0], data.outputs[0]));
}

}  // namespace
}  // namespace spruce
