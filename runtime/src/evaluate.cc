#include "evaluate.h"

#include <oneapi/dnnl/dnnl.hpp>

#include "linear_op.h"
#include "ops/op.h"
#include "spruce/kernels/transpose.h"

namespace spruce {
namespace {

// Inputs as given (row-major); feature-major on request, transposed once.
class EvaluationContext final : public RunContext {
 public:
  EvaluationContext(const NodeDesc& node, const std::vector<Tensor>& inputs,
                    std::vector<Tensor>* outputs)
      : node_(node),
        inputs_(inputs),
        outputs_(*outputs),
        converted_(inputs.size()) {}

  bool has_input(size_t k) const override {
    return k < node_.inputs.size() && node_.inputs[k] != kNoValue;
  }
  const Shape& input_shape(size_t k) const override {
    return inputs_[k].shape();
  }
  Layout input_layout(size_t /*k*/) const override { return Layout::kRowMajor; }
  const float* input(size_t k, Layout want) override {
    const Tensor& t = inputs_[k];
    if (want == Layout::kRowMajor) return t.data();
    if (want != Layout::kFeatureMajor) {
      throw Error("internal: folding cannot give " + node_label(node_) +
                  " a channels-last input");
    }
    // [n × features] → [features × n].
    const Shape& s = t.shape();
    const size_t features = s.empty() ? 1 : static_cast<size_t>(s.back());
    const size_t n = features == 0 ? 0 : t.size() / features;
    std::vector<float>& out = converted_[k];
    out.resize(t.size());
    if (n > 0 && features > 0) {
      kernels::transpose(t.data(), n, features, features, out.data(), n);
    }
    return out.data();
  }
  bool has_output(size_t k) const override {
    return k < node_.outputs.size() && node_.outputs[k] != kNoValue;
  }
  const Shape& output_shape(size_t k) const override {
    return outputs_[k].shape();
  }
  Layout output_layout(size_t /*k*/) const override {
    return Layout::kRowMajor;
  }
  float* output(size_t k) override { return outputs_[k].data(); }
  void set_output(size_t k, const float* data) override {
    std::copy(data, data + outputs_[k].size(), outputs_[k].data());
  }
  int threads() const override { return 1; }

 private:
  const NodeDesc& node_;
  const std::vector<Tensor>& inputs_;
  std::vector<Tensor>& outputs_;
  std::vector<std::vector<float>> converted_;
};

}  // namespace

std::vector<Tensor> evaluate_node(const Graph& graph, const NodeDesc& node,
                                  const std::vector<Tensor>& inputs) {
  const OpRule& rule = op_rule(node.op);
  rule.check(graph, node);
  std::vector<Shape> input_shapes;
  for (size_t k = 0; k < node.inputs.size(); ++k) {
    input_shapes.push_back(node.inputs[k] == kNoValue ? Shape{}
                                                      : inputs.at(k).shape());
  }
  const std::vector<Shape> output_shapes =
      rule.output_shapes(graph, node, input_shapes);
  std::vector<Tensor> outputs(output_shapes.size());
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (node.outputs[k] != kNoValue) outputs[k].reset(output_shapes[k]);
  }
  // Dense kernels, no timing: a fold runs once.
  LinearPlanOptions plan;
  plan.force_dense = true;
  plan.measure = false;
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const std::unique_ptr<Op> op = rule.create(OpInit{graph, node, plan, engine});
  EvaluationContext ctx(node, inputs, &outputs);
  op->run(ctx);
  return outputs;
}

}  // namespace spruce
