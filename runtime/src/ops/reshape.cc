// Reshape: y = x reshaped to attribute "shape", the same bytes under a new
// shape. A size d >= 1 is kept, -1 is inferred, d <= -2 copies the input's
// dimension -d - 2 (so dynamic sizes carry over); where attribute
// "ref_dims" has a 1, that copies the dimension of a second input (the
// model input a dynamic size comes from) instead.
#include "ops/op.h"

namespace spruce {
namespace {

class ReshapeNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override { ctx.set_output(0, ctx.input(0)); }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{1, 2});
  const std::vector<int64_t>& refs = node.attrs.get_ints("ref_dims");
  if (!refs.empty() && (refs.size() != node.attrs.get_ints("shape").size() ||
                        node.inputs.size() != 2)) {
    throw Error(node_label(node) +
                " has ref_dims without a reference input, or of another "
                "length than its shape");
  }
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const std::vector<int64_t>& sizes = node.attrs.get_ints("shape");
  const std::vector<int64_t>& refs = node.attrs.get_ints("ref_dims");
  Shape y(sizes.size());
  int64_t known = 1;
  size_t infer = sizes.size();
  bool unknown = false;
  for (size_t i = 0; i < sizes.size(); ++i) {
    int64_t d = sizes[i];
    if (d <= -2) {
      const int64_t from = -d - 2;
      const Shape& source = !refs.empty() && refs[i] != 0 ? inputs.at(1) : x;
      if (from >= static_cast<int64_t>(source.size())) {
        fail_node(node, "copies dimension " + std::to_string(from) +
                            " of an input of rank " +
                            std::to_string(source.size()));
      }
      d = source[static_cast<size_t>(from)];
      if (d < 0) {
        unknown = true;
        y[i] = -1;
        continue;
      }
    } else if (d == 0) {
      fail_node(node, "a dimension of size 0 is not supported");
    }
    if (d == -1) {
      if (infer != sizes.size()) fail_node(node, "two dimensions to infer");
      infer = i;
    } else if (__builtin_mul_overflow(known, d, &known) ||
               known > (int64_t{1} << 62)) {
      // A hostile file's sizes; real ones are bounded far below.
      fail_node(node, "sizes multiply past 2^62");
    }
    y[i] = d;
  }
  const int64_t total = product_or_unknown(x, 0, x.size());
  if (infer < y.size()) {
    if (total < 0 || unknown) {
      y[infer] = -1;
    } else if (known == 0 || total % known != 0) {
      fail_node(node,
                "cannot reshape " + to_string(x) + " into " + to_string(y));
    } else {
      y[infer] = total / known;
    }
  } else if (total >= 0 && !unknown && total != known) {
    fail_node(node, "cannot reshape " + to_string(x) + " (" +
                        std::to_string(total) + " elements) into " +
                        to_string(y));
  }
  return {y};
}

}  // namespace

extern const OpRule kReshapeRule = per_image(
    {check, shapes, create_op<ReshapeNode>, OutputMemory::kAliasInput});

}  // namespace spruce
