// The PyTorch fixtures (tools/make_fixtures.py) end to end: converted,
// loaded in every mode of fixture_modes.h and compared element by element
// with PyTorch's outputs; recurrent layers (PyTorch's gate orders as its
// exporter rewrites them, with the Transpose / Reshape / Slice / Concat /
// zero-state subgraphs it wraps around each layer), CNNs, BERT, and the
// architecture set exported with dynamic axes and run at other shapes.
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include "fixture_modes.h"
#include "hwy/targets.h"
#include "onnx_test_data.h"
#include "spruce/converters/onnx_import.h"
#include "spruce/spruce.h"
#include "test_util.h"

namespace spruce {
namespace {

using testing::ExpectMatchesTestData;
using testing::fixture;
using testing::read_test_data;
using testing::temp_path;
using testing::tensors_close;
using testing::TestData;

class TorchFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchFixture, MatchesPyTorch) {
  const std::string dir = fixture(GetParam());
  ExpectMatchesTestData(dir + "/model.onnx", read_test_data(dir), {});
}

// cnn_pruned90, bert_tiny_pruned90 and the architecture fixtures run the
// same modes: every pruned Conv or Linear on the sparse kernels, the timed
// choice, and everything on oneDNN. The BERT fixture has int64 inputs and
// padded positions; the decoders (exported with dynamic batch and sequence,
// folded and not), the Conv1d keyword spotter and the torchvision networks
// (Swin, MobileNet v3, EfficientNet, ShuffleNet v2; dynamic batch), the
// einsum attention and the post-norm encoder (dynamic batch and sequence)
// and the GroupNorm CNN (dynamic batch) run at a shape other than the one
// they were exported at.
INSTANTIATE_TEST_SUITE_P(
    Fixtures, TorchFixture,
    ::testing::Values(
        "lstm_pruned90", "lstm_pruned90_zero_state", "lstm_pruned90_unfolded",
        "gru_pruned90", "rnn_relu_pruned90", "cnn_pruned90",
        "bert_tiny_pruned90", "decoder_dynamic", "decoder_dynamic_unfolded",
        "encoder_prenorm_dynamic", "encoder_prenorm_dynamic_unfolded",
        "vit_dynamic", "vit_dynamic_unfolded", "mlp_activations_dynamic",
        "shuffle_unit_dynamic", "kws_conv1d", "swin_dynamic",
        "swin_dynamic_unfolded", "mobilenet_v3_small_dynamic",
        "efficientnet_b0_dynamic", "shufflenet_v2_dynamic",
        "shufflenet_v2_dynamic_unfolded", "einsum_attention_dynamic",
        "groupnorm_cnn_dynamic", "encoder_postnorm_dynamic"),
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

}  // namespace
}  // namespace spruce
