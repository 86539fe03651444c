// ONNX Range: folded to a constant when start, limit and delta are known at
// conversion; a runtime Range when the limit is a dynamic size of a model
// input (torch.arange(x.shape[1]) under dynamic axes).
#include <cmath>

#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_range(const onnx::NodeProto& node) {
  if (node.input_size() != 3) fail(node, "needs inputs start, limit, delta");
  // Each input as one number: a constant scalar or a size.
  auto scalar = [&](int k) -> std::optional<double> {
    const std::string& name = node.input(k);
    if (is_constant(name)) {
      const Constant& c = constants_.at(name);
      if ((c.is_float ? c.f.size() : c.i.size()) != 1) {
        fail(node, "input '" + name + "' is not a scalar");
      }
      return c.is_float ? double{c.f[0]} : static_cast<double>(c.i[0]);
    }
    const std::optional<std::vector<int64_t>> v = int_values(name);
    if (v && v->size() == 1 && (*v)[0] >= 0)
      return static_cast<double>((*v)[0]);
    return std::nullopt;
  };
  const std::optional<double> start = scalar(0), limit = scalar(1),
                              delta = scalar(2);
  if (!start || !delta) {
    fail(node, "start and delta must be known at conversion");
  }
  if (*delta == 0) fail(node, "delta is 0");
  const bool integer = is_integer(dtype_of(node.input(0)));
  if (limit) {
    const double n = std::ceil((*limit - *start) / *delta);
    if (!(n >= 1))
      fail(node, "the range is empty, which spruce does not support");
    if (n > static_cast<double>(kMaxActivationElements)) {
      fail(node, "a range of " + std::to_string(n) + " elements is too large");
    }
    Constant c;
    c.shape = {static_cast<int64_t>(n)};
    c.dtype = dtype_of(node.input(0));
    c.is_float = !integer;
    for (int64_t k = 0; k < c.shape[0]; ++k) {
      const double v = *start + static_cast<double>(k) * *delta;
      if (integer) {
        c.i.push_back(static_cast<int64_t>(v));
      } else {
        c.f.push_back(static_cast<float>(v));
      }
    }
    constants_[node.output(0)] = std::move(c);
    return;
  }
  // The limit is a symbolic size: the runtime takes it from the input that
  // carries it.
  const std::optional<std::vector<int64_t>> sym = int_values(node.input(1));
  const auto origin = sym && sym->size() == 1 ? symbol_origin_.find((*sym)[0])
                                              : symbol_origin_.end();
  if (origin == symbol_origin_.end()) {
    fail(node, "its limit '" + node.input(1) +
                   "' is neither known at conversion nor a dynamic size of "
                   "a model input");
  }
  NodeDef n;
  n.op = OpKind::kRange;
  n.inputs = {origin->second.first};
  n.attrs.set_int("dim", static_cast<int64_t>(origin->second.second));
  n.attrs.set_float("start", static_cast<float>(*start));
  n.attrs.set_float("delta", static_cast<float>(*delta));
  const bool exact = *start == 0 && *delta == 1;
  add_simple(node, std::move(n), {exact ? (*sym)[0] : -1});
}

SPRUCE_ONNX_RULE(range, {"Range"}, ImportRule::kBeforeFolding,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
