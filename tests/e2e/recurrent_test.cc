// Recurrent layers end to end beyond the PyTorch fixtures (which run in
// torch_fixtures_test.cc): ONNX's GRU and RNN node tests (the GRU's other
// candidate form, batch-major layout) in every mode, and LSTM batches run
// row by row, at other lengths and with a wrong state. ONNX's node tests
// also run, in the default mode, in onnx_node_test.cc with the other ops.
#include <gtest/gtest.h>

#include <filesystem>

#include "fixture_modes.h"
#include "onnx_test_data.h"
#include "spruce/converters/onnx_import.h"
#include "spruce/converters/onnx_tensor.h"
#include "spruce/spruce.h"
#include "test_util.h"

namespace spruce {
namespace {

using testing::ExpectMatchesTestData;
using testing::fixture;
using testing::Mode;
using testing::modes;
using testing::read_test_data;
using testing::temp_path;
using testing::tensors_close;
using testing::TestData;

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
