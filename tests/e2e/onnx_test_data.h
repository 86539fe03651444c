// The ONNX test data format (model.onnx beside test_data_set_N/input_K.pb and
// output_K.pb): ONNX's backend node tests and spruce's own PyTorch fixtures.
#ifndef SPRUCE_TESTS_E2E_ONNX_TEST_DATA_H_
#define SPRUCE_TESTS_E2E_ONNX_TEST_DATA_H_

#include <filesystem>
#include <string>
#include <vector>

#include "spruce/converters/onnx_tensor.h"
#include "spruce/tensor.h"

namespace spruce::testing {

// One test_data_set_N directory.
struct TestData {
  std::vector<std::string> input_names;
  std::vector<std::string> input_files;
  std::vector<std::string> output_names;
  std::vector<Tensor> outputs;
};

inline TestData read_test_data(const std::string& dir, int set_index = 0) {
  TestData data;
  const std::string set =
      dir + "/test_data_set_" + std::to_string(set_index) + "/";
  for (int k = 0;; ++k) {
    const std::string file = set + "input_" + std::to_string(k) + ".pb";
    if (!std::filesystem::exists(file)) break;
    std::string name;
    converters::read_onnx_tensor_file(file, &name);
    data.input_names.push_back(name);
    data.input_files.push_back(file);
  }
  for (int k = 0;; ++k) {
    const std::string file = set + "output_" + std::to_string(k) + ".pb";
    if (!std::filesystem::exists(file)) break;
    std::string name;
    data.outputs.push_back(converters::read_onnx_tensor_file(file, &name));
    data.output_names.push_back(name);
  }
  return data;
}

inline int count_test_data_sets(const std::string& dir) {
  int n = 0;
  while (std::filesystem::exists(dir + "/test_data_set_" + std::to_string(n))) {
    ++n;
  }
  return n;
}

}  // namespace spruce::testing

#endif  // SPRUCE_TESTS_E2E_ONNX_TEST_DATA_H_
