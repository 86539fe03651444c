// ONNX's reductions: each ONNX name in runtime/src/ops/reduce_list.inc
// (ReduceMean, ReduceSum, ReduceMax, ReduceL2, ...).
#include "onnx/importer.h"

namespace spruce::converters {

namespace {

const std::map<std::string, ReduceOp>& reduce_imports() {
  static const std::map<std::string, ReduceOp> imports = {
#define SPRUCE_REDUCE(name, code, onnx, start, step, end) \
  {onnx, ReduceOp::k##name},
#include "ops/reduce_list.inc"
#undef SPRUCE_REDUCE
  };
  return imports;
}

std::vector<std::string> reduce_op_types() {
  std::vector<std::string> types;
  for (const auto& entry : reduce_imports()) types.push_back(entry.first);
  return types;
}

}  // namespace

void Importer::import_reduce(const onnx::NodeProto& node) {
  if (node.input_size() < 1 || node.input_size() > 2) {
    fail(node, "needs 1 or 2 inputs (data[, axes])");
  }
  NodeDef n;
  n.op = OpKind::kReduce;
  const ReduceOp op = reduce_imports().at(node.op_type());
  if (op != ReduceOp::kMean) n.attrs.set_int("op", static_cast<int64_t>(op));
  n.inputs = {operand(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  const std::vector<int64_t> axes =
      normalized_axes(node, ints_input_or_attr(node, 1, "axes"), xs.size());
  n.attrs.set_ints("axes", axes);
  if (axes.empty() && attr_int(node, "noop_with_empty_axes", 0) != 0) {
    values_[node.output(0)] = n.inputs[0];
    return;
  }
  const bool keepdims = attr_int(node, "keepdims", 1) != 0;
  n.attrs.set_int("keepdims", keepdims);
  Shape shape;
  for (size_t d = 0; d < xs.size(); ++d) {
    const bool reduced =
        axes.empty() ||
        std::binary_search(axes.begin(), axes.end(), static_cast<int64_t>(d));
    if (!reduced) {
      shape.push_back(xs[d]);
    } else if (keepdims) {
      shape.push_back(1);
    }
  }
  add_simple(node, std::move(n), shape);
}

SPRUCE_ONNX_RULE(reduce, reduce_op_types(), ImportRule::kNone,
                 /*weight_inputs=*/{1});

}  // namespace spruce::converters
