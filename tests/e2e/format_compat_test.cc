// Files written by an older spruce keep loading. tests/fixtures/format1/
// holds the PyTorch fixtures as spruce wrote them in format 1 (parameters in
// fixed Node fields; commit edd994f, `spruce convert <fixture>/model.onnx`);
// the reader maps those fields to the attributes format 2 stores, so each
// must still run and match PyTorch's outputs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "onnx_test_data.h"
#include "spruce/spruce.h"
#include "test_util.h"

namespace spruce {
namespace {

using testing::fixture;
using testing::tensors_close;

class FormatOne : public ::testing::TestWithParam<const char*> {};

TEST_P(FormatOne, LoadsAndMatchesPyTorch) {
  const std::string name = GetParam();
  const Engine engine = Engine::load(fixture("format1/" + name + ".spruce"));
  const testing::TestData data = testing::read_test_data(fixture(name));
  ASSERT_EQ(data.inputs.size(), engine.inputs().size());
  std::vector<Input> inputs;
  for (size_t k = 0; k < data.inputs.size(); ++k) {
    inputs.push_back(testing::as_input(data.inputs[k]));
    if (inputs.back().name.empty())
      inputs.back().name = engine.inputs()[k].name;
  }
  const std::vector<Tensor> out = engine.run(inputs);
  ASSERT_EQ(out.size(), data.outputs.size());
  for (size_t k = 0; k < out.size(); ++k) {
    EXPECT_TRUE(tensors_close(out[k], data.outputs[k]))
        << name << " output " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FormatOne,
                         ::testing::Values("mlp_pruned90", "cnn_pruned90",
                                           "lstm_pruned90",
                                           "bert_tiny_pruned90"),
                         testing::FixtureName());

}  // namespace
}  // namespace spruce
