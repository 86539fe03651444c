// The modes the fixture tests run a converted model in (spruce's sparse
// kernels or steps loop for every batch, the timed choice, oneDNN for every
// batch; 1 and 2 threads), and the check that each matches its test data.
// Shared by recurrent_test.cc and torch_fixtures_test.cc.
#ifndef SPRUCE_TESTS_E2E_FIXTURE_MODES_H_
#define SPRUCE_TESTS_E2E_FIXTURE_MODES_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "onnx_test_data.h"
#include "spruce/converters/onnx_import.h"
#include "spruce/spruce.h"
#include "test_util.h"

namespace spruce::testing {

struct Mode {
  const char* name;
  EngineOptions options;
};

// spruce's steps loop for every batch, the per-layer choice by timing, and
// oneDNN's primitive for every batch; each on 1 and 2 threads.
inline std::vector<Mode> modes() {
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
inline void ExpectMatchesTestData(const std::string& model,
                                  const TestData& data,
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

}  // namespace spruce::testing

#endif  // SPRUCE_TESTS_E2E_FIXTURE_MODES_H_
