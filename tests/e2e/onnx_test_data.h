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

// One test_data_set_N directory. Integer and bool outputs (shapes,
// indices, masks) are held as float for comparison, as spruce returns them:
// exact within ±2^24; output_types says what each was.
struct TestData {
  std::vector<std::string> input_names;
  std::vector<std::string> input_files;
  std::vector<converters::OnnxTensorFile> inputs;
  std::vector<std::string> output_names;
  std::vector<Tensor> outputs;
  std::vector<DataType> output_types;
};

// The runtime's view of one test input (pointing into `t`).
inline Input as_input(const converters::OnnxTensorFile& t) {
  Input in;
  in.name = t.name;
  in.shape = t.shape;
  if (t.dtype == DataType::kFloat32) {
    in.data = t.floats.data();
  } else {
    in.elements = t.elements.data();
  }
  return in;
}

inline TestData read_test_data(const std::string& dir, int set_index = 0) {
  TestData data;
  const std::string set =
      dir + "/test_data_set_" + std::to_string(set_index) + "/";
  for (int k = 0;; ++k) {
    const std::string file = set + "input_" + std::to_string(k) + ".pb";
    if (!std::filesystem::exists(file)) break;
    data.inputs.push_back(converters::read_onnx_tensor(file));
    data.input_names.push_back(data.inputs.back().name);
    data.input_files.push_back(file);
  }
  for (int k = 0;; ++k) {
    const std::string file = set + "output_" + std::to_string(k) + ".pb";
    if (!std::filesystem::exists(file)) break;
    converters::OnnxTensorFile t = converters::read_onnx_tensor(file);
    if (t.dtype != DataType::kFloat32) {
      t.floats.assign(t.int64s.begin(), t.int64s.end());
    }
    data.outputs.emplace_back(t.shape, std::move(t.floats));
    data.output_names.push_back(t.name);
    data.output_types.push_back(t.dtype);
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
