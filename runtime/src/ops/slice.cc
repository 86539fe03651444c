// Slice of x: attribute "slices" holds (axis, start, end, step) per sliced
// axis, clamped as ONNX does; with a second input, slice k whose
// "end_dims"[k] >= 0 ends at that dimension of it.
#include <algorithm>

#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

// The slices of `node` on input `x` (and `ref`, its second input, for ends
// taken from a dimension); empty if a needed dimension is unknown (-1).
std::vector<SliceDim> resolve_slice(const NodeDesc& node, const Shape& x,
                                    const Shape* ref) {
  const std::vector<int64_t>& ints = node.attrs.get_ints("slices");
  const std::vector<int64_t>& end_dims = node.attrs.get_ints("end_dims");
  std::vector<SliceDim> dims;
  for (size_t k = 0; k + 3 < ints.size(); k += 4) {
    SliceDim d;
    d.axis = ints[k];
    int64_t start = ints[k + 1];
    int64_t end = ints[k + 2];
    d.step = ints[k + 3];
    const int64_t end_dim = end_dims[k / 4];
    if (end_dim >= 0) {
      if (ref == nullptr || static_cast<size_t>(end_dim) >= ref->size()) {
        fail_node(node, "end refers to a missing dimension");
      }
      end = (*ref)[static_cast<size_t>(end_dim)];
      if (end < 0) return {};  // unknown until run time
    }
    if (d.axis < 0 || static_cast<size_t>(d.axis) >= x.size() || d.step == 0) {
      fail_node(node, "axis " + std::to_string(d.axis) + " or step " +
                          std::to_string(d.step) + " invalid for input " +
                          to_string(x));
    }
    const int64_t n = x[static_cast<size_t>(d.axis)];
    if (n < 0) return {};
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (d.step > 0) {
      start = std::clamp<int64_t>(start, 0, n);
      end = std::clamp<int64_t>(end, 0, n);
      d.size = end > start ? (end - start + d.step - 1) / d.step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, n - 1);
      end = std::clamp<int64_t>(end, -1, n - 1);
      d.size = start > end ? (start - end - d.step - 1) / -d.step : 0;
    }
    d.start = start;
    dims.push_back(d);
  }
  return dims;
}

const Shape* end_reference(const std::vector<Shape>& inputs) {
  return inputs.size() > 1 ? &inputs[1] : nullptr;
}

class SliceNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    const Shape& xs = ctx.input_shape(0);
    const Shape* ref = node_.inputs.size() > 1 ? &ctx.input_shape(1) : nullptr;
    slice(ctx.input(0), xs, resolve_slice(node_, xs, ref), ctx.output(),
          ctx.output_shape());
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{1, 2});
  const std::vector<int64_t>& ints = node.attrs.get_ints("slices");
  if (ints.size() % 4 != 0 ||
      node.attrs.get_ints("end_dims").size() != ints.size() / 4) {
    throw Error(node_label(node) +
                " needs (axis, start, end, step) and an end_dim per slice");
  }
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  Shape y = x;
  const std::vector<SliceDim> dims =
      resolve_slice(node, x, end_reference(inputs));
  if (dims.empty()) {
    const std::vector<int64_t>& ints = node.attrs.get_ints("slices");
    for (size_t k = 0; k < ints.size(); k += 4) {
      y[checked_axis(node, ints[k], x.size())] = -1;
    }
  }
  for (const SliceDim& d : dims) {
    if (d.size == 0) fail_node(node, "slice of " + to_string(x) + " is empty");
    y[static_cast<size_t>(d.axis)] = d.size;
  }
  return {y};
}

}  // namespace

extern const OpRule kSliceRule =
    per_image({check, shapes, create_op<SliceNode>});

}  // namespace spruce
