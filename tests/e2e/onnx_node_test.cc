// Conformance: ONNX's own test suites from Debian's libonnx-testdata — the
// backend node tests, and the models converted from PyTorch's modules and
// operators — every case of them, through conversion and a run, outputs
// compared element by element (output names included). Each case either
// conforms or is listed in onnx_refused.tsv with the words its error must
// contain, checked at the first step that fails: conversion (single-node
// graphs with their weight inputs, ImportRule::weight_inputs, frozen from
// the test's files, as they are initializers in real models), reading its
// test data, then a run. A case that starts or stops being supported shows
// up as a failure, a case that converts and mismatches is always one, and
// nothing is skipped silently.
//
// SPRUCE_ONNX_REFUSED_OUT=<file> writes every failing case with its error
// there, to remake the list after a change of support.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
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

using testing::read_test_data;
using testing::tensors_close;
using testing::TestData;

constexpr const char* kSuites[] = {"node", "pytorch-converted",
                                   "pytorch-operator"};
// Cases per suite in libonnx-testdata 1.12 (Debian 12); fewer means files
// are missing, not that ops lost support.
const std::map<std::string, size_t> kExpectedCases = {
    {"node", 932}, {"pytorch-converted", 82}, {"pytorch-operator", 35}};

std::string data_root() {
  return std::filesystem::path(SPRUCE_ONNX_NODE_TESTS).parent_path().string();
}

// "suite/case" → the words its refusal must contain.
std::map<std::string, std::string> refused_cases() {
  std::map<std::string, std::string> refused;
  std::ifstream file(std::string(SPRUCE_TESTS_DIR) + "/e2e/onnx_refused.tsv");
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    refused[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return refused;
}

const std::map<std::string, std::string>& kRefused() {
  static const std::map<std::string, std::string> refused = refused_cases();
  return refused;
}

struct SuiteCase {
  std::string suite;
  std::string name;
  std::string id() const { return suite + "/" + name; }
  std::string dir() const { return data_root() + "/" + id(); }
};

// gtest prints a case as its name, not as the bytes of the struct.
void PrintTo(const SuiteCase& c, std::ostream* out) { *out << c.id(); }

std::vector<SuiteCase> suite_cases() {
  std::vector<SuiteCase> cases;
  for (const char* suite : kSuites) {
    const std::filesystem::path root = data_root() + "/" + suite;
    if (!std::filesystem::exists(root)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(root)) {
      if (entry.is_directory()) {
        cases.push_back({suite, entry.path().filename().string()});
      }
    }
  }
  std::sort(
      cases.begin(), cases.end(),
      [](const SuiteCase& a, const SuiteCase& b) { return a.id() < b.id(); });
  return cases;
}

onnx::ModelProto read_model(const std::string& dir) {
  std::ifstream file(dir + "/model.onnx", std::ios::binary);
  onnx::ModelProto model;
  if (!file || !model.ParseFromIstream(&file)) return {};
  return model;
}

// The names of a test model's graph inputs, in order (initializers aside):
// the test data's tensors are these, whatever names they carry.
std::vector<std::string> graph_inputs(const onnx::ModelProto& model) {
  std::set<std::string> initializers;
  for (const auto& t : model.graph().initializer()) {
    initializers.insert(t.name());
  }
  std::vector<std::string> names;
  for (const auto& in : model.graph().input()) {
    if (initializers.count(in.name()) == 0) names.push_back(in.name());
  }
  return names;
}

// The graph inputs (initializers aside) to freeze as weights: those the
// import rule of a single-op graph (Constant nodes aside) takes as
// constants.
converters::ConvertOptions freezing(const std::string& dir) {
  converters::ConvertOptions convert;
  const onnx::ModelProto model = read_model(dir);
  const onnx::GraphProto& g = model.graph();
  const onnx::NodeProto* op = nullptr;
  for (const onnx::NodeProto& n : g.node()) {
    if (n.op_type() == "Constant") continue;
    if (op != nullptr) return convert;
    op = &n;
  }
  if (op == nullptr) return convert;
  const converters::ImportRule* rule = converters::import_rule(op->op_type());
  if (rule == nullptr) return convert;
  // Rule positions are the node's inputs; test data files follow the
  // graph's inputs.
  const std::vector<std::string> inputs = graph_inputs(model);
  for (int k : rule->weight_inputs) {
    if (k >= op->input_size()) continue;
    const std::string& name = op->input(k);
    const auto at = std::find(inputs.begin(), inputs.end(), name);
    if (name.empty() || at == inputs.end()) continue;
    convert.constant_inputs[name] = dir + "/test_data_set_0/input_" +
                                    std::to_string(at - inputs.begin()) +
                                    ".pb";
  }
  return convert;
}

// The run's inputs: the test data's tensors under the graph's input names,
// the frozen ones left out.
std::vector<Input> inputs_of(const TestData& data,
                             const std::vector<std::string>& names,
                             const converters::ConvertOptions& convert) {
  std::vector<Input> given;
  for (size_t k = 0; k < data.inputs.size() && k < names.size(); ++k) {
    if (convert.constant_inputs.count(names[k]) == 0) {
      given.push_back(testing::as_input(data.inputs[k]));
      given.back().name = names[k];
    }
  }
  return given;
}

void record_refusal(const SuiteCase& c, const std::string& what) {
  const char* out = std::getenv("SPRUCE_ONNX_REFUSED_OUT");
  if (out == nullptr) return;
  std::string line = what;
  std::replace(line.begin(), line.end(), '\n', ' ');
  std::replace(line.begin(), line.end(), '\t', ' ');
  std::ofstream(out, std::ios::app) << c.id() << "\t" << line << "\n";
}

class OnnxSuite : public ::testing::TestWithParam<SuiteCase> {};

TEST(OnnxSuites, TestDataIsInstalled) {
  ASSERT_TRUE(std::filesystem::exists(SPRUCE_ONNX_NODE_TESTS))
      << SPRUCE_ONNX_NODE_TESTS << " missing: tools/setup.sh installs "
      << "libonnx-testdata";
  std::map<std::string, size_t> found;
  for (const SuiteCase& c : suite_cases()) ++found[c.suite];
  for (const auto& [suite, count] : kExpectedCases) {
    EXPECT_GE(found[suite], count) << suite;
  }
  // Every listed refusal names a case that exists.
  std::set<std::string> ids;
  for (const SuiteCase& c : suite_cases()) ids.insert(c.id());
  for (const auto& entry : kRefused()) {
    const std::string id = entry.first.substr(0, entry.first.find('@'));
    EXPECT_EQ(ids.count(id), 1u) << entry.first << " listed, absent";
  }
  std::cout << "[ suites   ] " << suite_cases().size() << " cases, "
            << kRefused().size() << " refused\n";
}

// Checks the case in `dir` (named `id`): its refusal if listed, else that
// it converts, runs and matches in every mode.
void check_case(const std::string& id, const std::string& dir) {
  const std::string name = id.substr(id.find('/') + 1);
  const auto refused = kRefused().find(id);
  const int sets = testing::count_test_data_sets(dir);
  const converters::ConvertOptions convert = freezing(dir);
  const std::string path = testing::temp_path(name + ".spruce");
  if (refused != kRefused().end()) {
    try {
      converters::convert_onnx_file(dir + "/model.onnx", path, convert);
      if (sets == 0) throw Error(dir + ": no test data");
      const TestData data = read_test_data(dir, 0);
      const Engine engine = Engine::load(path);
      engine.run(inputs_of(data, graph_inputs(read_model(dir)), convert));
      FAIL() << id << " converts and runs now; remove it from "
             << "onnx_refused.tsv";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(refused->second), std::string::npos)
          << e.what();
      std::cout << "[ refused  ] " << id << ": " << e.what() << "\n";
    }
    return;
  }
  try {
    ASSERT_GT(sets, 0) << dir;
    converters::convert_onnx_file(dir + "/model.onnx", path, convert);
    const std::vector<std::string> names = graph_inputs(read_model(dir));
    for (int s = 0; s < sets; ++s) {
      const TestData data = read_test_data(dir, s);
      const std::vector<Input> given = inputs_of(data, names, convert);
      for (const bool dense : {false, true}) {
        for (const int threads : {1, 2}) {
          SCOPED_TRACE(std::string(dense ? "onednn" : "measured") +
                       " threads=" + std::to_string(threads) + " set " +
                       std::to_string(s));
          EngineOptions options;
          options.force_dense = dense;
          options.num_threads = threads;
          // Some cases test what a NaN or an infinity gives (IsNaN, Max).
          options.reject_non_finite_inputs = false;
          const Engine engine = Engine::load(path, options);
          const std::vector<Tensor> out = engine.run(given);
          ASSERT_EQ(out.size(), data.outputs.size());
          for (size_t k = 0; k < out.size(); ++k) {
            if (!data.output_names[k].empty()) {  // PyTorch's files: unnamed
              EXPECT_EQ(engine.outputs()[k].name, data.output_names[k]);
            }
            ASSERT_EQ(out[k].shape(), data.outputs[k].shape())
                << data.output_names[k];
            // Integer and bool outputs: their type, and exact values.
            EXPECT_EQ(data_type_name(engine.outputs()[k].dtype),
                      std::string(data_type_name(data.output_types[k])))
                << data.output_names[k];
            const bool exact = is_integer(data.output_types[k]);
            EXPECT_TRUE(tensors_close(out[k], data.outputs[k],
                                      exact ? 0.0 : 1e-4, exact ? 0.0 : 1e-5))
                << data.output_names[k];
          }
        }
      }
    }
  } catch (const Error& e) {
    record_refusal(SuiteCase{id.substr(0, id.find('/')), name}, e.what());
    FAIL() << e.what();
  }
  std::cout << "[ conforms ] " << id << "\n";
}

TEST_P(OnnxSuite, Conforms) { check_case(GetParam().id(), GetParam().dir()); }

// The cases refused only for their float64 tensors (CumSum's and Einsum's
// are all float64) run again with every float64 tensor, type and Cast
// target made float32: the op is checked even though spruce refuses float64
// by name. These are listed as "suite/case@float32" where refused.
constexpr const char* kFloat64Refusal = "is of data type double";

// `t` as float32 if it is float64.
void tensor_to_float32(onnx::TensorProto* t) {
  if (t->data_type() != onnx::TensorProto::DOUBLE) return;
  std::vector<double> v(t->double_data().begin(), t->double_data().end());
  if (t->has_raw_data()) {
    v.resize(t->raw_data().size() / sizeof(double));
    std::memcpy(v.data(), t->raw_data().data(), v.size() * sizeof(double));
  }
  t->clear_double_data();
  t->clear_raw_data();
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (double d : v) t->add_float_data(static_cast<float>(d));
}

void type_to_float32(onnx::TypeProto* type) {
  if (type->has_tensor_type() &&
      type->tensor_type().elem_type() == onnx::TensorProto::DOUBLE) {
    type->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  }
}

void graph_to_float32(onnx::GraphProto* g) {
  for (auto* list :
       {g->mutable_input(), g->mutable_output(), g->mutable_value_info()}) {
    for (onnx::ValueInfoProto& v : *list) type_to_float32(v.mutable_type());
  }
  for (onnx::TensorProto& t : *g->mutable_initializer()) tensor_to_float32(&t);
  for (onnx::NodeProto& n : *g->mutable_node()) {
    for (onnx::AttributeProto& a : *n.mutable_attribute()) {
      if (a.has_t()) tensor_to_float32(a.mutable_t());
      if (a.name() == "to" && a.i() == onnx::TensorProto::DOUBLE) {
        a.set_i(onnx::TensorProto::FLOAT);
      }
    }
  }
}

// A copy of the case in `dir` with float64 made float32, in a temporary
// directory; returns it.
std::string float32_copy(const SuiteCase& c) {
  namespace fs = std::filesystem;
  const fs::path out = testing::temp_path(c.name + "@float32");
  fs::create_directories(out);
  onnx::ModelProto model = read_model(c.dir());
  graph_to_float32(model.mutable_graph());
  std::ofstream(out / "model.onnx", std::ios::binary)
      << model.SerializeAsString();
  for (const auto& set : fs::directory_iterator(c.dir())) {
    if (!set.is_directory()) continue;
    fs::create_directories(out / set.path().filename());
    for (const auto& file : fs::directory_iterator(set.path())) {
      std::ifstream in(file.path(), std::ios::binary);
      onnx::TensorProto t;
      if (!t.ParseFromIstream(&in)) continue;
      tensor_to_float32(&t);
      std::ofstream(out / set.path().filename() / file.path().filename(),
                    std::ios::binary)
          << t.SerializeAsString();
    }
  }
  return out.string();
}

std::vector<SuiteCase> float64_cases() {
  std::vector<SuiteCase> cases;
  for (const SuiteCase& c : suite_cases()) {
    const auto refused = kRefused().find(c.id());
    if (refused != kRefused().end() &&
        refused->second.find(kFloat64Refusal) != std::string::npos) {
      cases.push_back(c);
    }
  }
  return cases;
}

class OnnxSuiteAsFloat32 : public ::testing::TestWithParam<SuiteCase> {};

TEST_P(OnnxSuiteAsFloat32, Conforms) {
  const SuiteCase& c = GetParam();
  check_case(c.id() + "@float32", float32_copy(c));
}

TEST(OnnxSuites, Float64CasesRunAsFloat32) {
  // The list is not empty: the float32 pass checks something.
  EXPECT_GE(float64_cases().size(), 30u);
}

// Indices a run cannot use (a class beyond the classes, an index beyond the
// axis) are errors naming the node, the value and its position, and the
// engine runs the good inputs afterwards.
TEST(OnnxIndices, OutOfRangeIndicesAreErrorsNamingThem) {
  const struct {
    const char* name;
    size_t input;     // the index input
    size_t position;  // the element made bad
    int64_t bad;
    const char* expected;
  } cases[] = {
      {"test_gather_elements_0", 1, 3, 2,
       "index 2 at position 3 is outside [-2, 2)"},
      {"test_nllloss_NC", 1, 1, 5,
       "target 5 at position 1 is not a class in [0, 5)"},
      {"test_scatternd", 1, 1, -5, "index -5 at position 1 is outside [-4, 4)"},
      {"test_scatter_elements_with_axis", 1, 0, 5,
       "index 5 at position 0 is outside [-5, 5)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string dir = std::string(SPRUCE_ONNX_NODE_TESTS) + "/" + c.name;
    const std::string path =
        testing::temp_path(std::string(c.name) + ".spruce");
    converters::convert_onnx_file(dir + "/model.onnx", path, {});
    const Engine engine = Engine::load(path);
    TestData data = read_test_data(dir);
    const std::vector<std::string> names = graph_inputs(read_model(dir));
    converters::OnnxTensorFile& ids = data.inputs[c.input];
    const std::vector<unsigned char> good = ids.elements;
    ids.int64s[c.position] = c.bad;
    ids.elements = to_elements(ids.int64s, ids.dtype);
    try {
      engine.run(inputs_of(data, names, {}));
      FAIL() << "ran with index " << c.bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.expected), std::string::npos)
          << e.what();
    }
    ids.elements = good;
    const std::vector<Tensor> out = engine.run(inputs_of(data, names, {}));
    EXPECT_TRUE(tensors_close(out[0], data.outputs[0]));
  }
}

std::string test_name(const ::testing::TestParamInfo<SuiteCase>& param) {
  std::string name = param.param.id();
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Onnx, OnnxSuite, ::testing::ValuesIn(suite_cases()),
                         test_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OnnxSuite);
INSTANTIATE_TEST_SUITE_P(Onnx, OnnxSuiteAsFloat32,
                         ::testing::ValuesIn(float64_cases()), test_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OnnxSuiteAsFloat32);

}  // namespace
}  // namespace spruce
