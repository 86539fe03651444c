// Models for the runtime tests: a node of one input and one output, and a
// model of one Linear node:
// x[x_shape] -> Linear(W, b, activation) -> y (x_shape with its last
// dimension the weight's rows), written to a temporary file. Extra model
// inputs that feed nothing may be appended (to test input checking).
#ifndef SPRUCE_TESTS_RUNTIME_LINEAR_MODEL_H_
#define SPRUCE_TESTS_RUNTIME_LINEAR_MODEL_H_

#include <string>
#include <utility>
#include <vector>

#include "spruce/converters/model_def.h"
#include "test_util.h"

namespace spruce::testing {

// Node `name` running `op` on value `in` into value `out`, with `weights`
// (indices into the model's weights) and a fused activation.
inline converters::NodeDef node(
    const std::string& name, OpKind op, uint32_t in, uint32_t out,
    std::vector<uint32_t> weights = {},
    kernels::Activation act = kernels::Activation::kNone) {
  converters::NodeDef n;
  n.name = name;
  n.op = op;
  n.inputs = {in};
  n.outputs = {out};
  n.weights = std::move(weights);
  set_activation(&n.attrs, act);
  return n;
}

// `matrix` holds W ([out, in]) in the format it should be stored in; an
// empty `bias` means none.
inline std::string write_linear_model(
    const std::string& name, converters::WeightDef matrix,
    std::vector<float> bias, kernels::Activation activation, Shape x_shape,
    std::vector<converters::ValueDef> extra_inputs = {}) {
  converters::ModelDef m;
  Shape y_shape = x_shape;
  y_shape.back() = matrix.shape[0];
  m.values = {{"x", std::move(x_shape)}, {"y", std::move(y_shape)}};
  converters::NodeDef n;
  n.name = "fc";
  n.op = OpKind::kLinear;
  n.inputs = {0};
  n.outputs = {1};
  n.weights = {0};
  set_activation(&n.attrs, activation);
  m.weights = {std::move(matrix)};
  if (!bias.empty()) {
    converters::WeightDef b;
    b.name = "b";
    b.shape = {static_cast<int64_t>(bias.size())};
    b.dense = std::move(bias);
    m.weights.push_back(std::move(b));
    n.weights.push_back(1);
  }
  m.nodes = {n};
  m.inputs = {0};
  for (converters::ValueDef& v : extra_inputs) {
    m.inputs.push_back(static_cast<uint32_t>(m.values.size()));
    m.values.push_back(std::move(v));
  }
  m.outputs = {1};
  const std::string path = temp_path(name);
  converters::write_model(m, path);
  return path;
}

}  // namespace spruce::testing

#endif  // SPRUCE_TESTS_RUNTIME_LINEAR_MODEL_H_
