// ONNX Resize (opset 10 on) and Upsample: nearest, linear and cubic, every
// coordinate_transformation_mode, sizes or scales; opset 10's Resize and
// Upsample map coordinates asymmetrically and round nearest down.
// Antialiasing, axes and keep_aspect_ratio_policy (opset 18) are refused.
#include <cmath>

#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_resize(const onnx::NodeProto& node) {
  if (node.input_size() < 1 || node.input(0).empty()) {
    fail(node, "needs an input");
  }
  const bool legacy = node.op_type() == "Upsample" || opset_ < 11;
  auto text = [&](const char* name, const char* fallback) {
    const onnx::AttributeProto* a = attr(node, name);
    return a != nullptr ? a->s() : std::string(fallback);
  };
  // The position of attribute `name`'s value among `values`.
  auto code_of = [&](const char* name, const char* fallback,
                     const std::vector<const char*>& values) {
    const std::string value = text(name, fallback);
    for (size_t k = 0; k < values.size(); ++k) {
      if (value == values[k]) return static_cast<int64_t>(k);
    }
    fail(node, std::string(name) + " '" + value + "' is not supported");
  };
  if (attr_int(node, "antialias", 0) != 0) fail(node, "antialias is not supported");
  if (attr(node, "axes") != nullptr) fail(node, "the axes attribute is not supported");
  if (text("keep_aspect_ratio_policy", "stretch") != "stretch") {
    fail(node, "keep_aspect_ratio_policy other than stretch is not supported");
  }
  NodeDef n;
  n.op = OpKind::kResize;
  n.inputs = {operand(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  const size_t rank = xs.size();
  n.attrs.set_int("mode",
                  code_of("mode", "nearest", {"nearest", "linear", "cubic"}));
  const int64_t coord =
      legacy ? 1
             : code_of("coordinate_transformation_mode", "half_pixel",
                       {"half_pixel", "asymmetric", "pytorch_half_pixel",
                        "align_corners", "tf_half_pixel_for_nn",
                        "tf_crop_and_resize"});
  n.attrs.set_int("coord", coord);
  n.attrs.set_int("nearest",
                  legacy ? 2
                         : code_of("nearest_mode", "round_prefer_floor",
                                   {"round_prefer_floor", "round_prefer_ceil",
                                    "floor", "ceil"}));
  n.attrs.set_float("cubic_a", attr_float(node, "cubic_coeff_a", -0.75f));
  n.attrs.set_int("exclude_outside", attr_int(node, "exclude_outside", 0));
  n.attrs.set_float("extrapolation",
                    attr_float(node, "extrapolation_value", 0.0f));
  // Inputs: X, scales (legacy); X, roi, scales, sizes (opset 11 on). An
  // empty tensor is as good as absent.
  auto input = [&](int k) -> const std::string* {
    if (node.input_size() <= k || node.input(k).empty()) return nullptr;
    return &node.input(k);
  };
  const std::string* roi_in = legacy ? nullptr : input(1);
  const std::string* scales_in = legacy ? input(1) : input(2);
  const std::string* sizes_in = legacy ? nullptr : input(3);
  std::vector<float> scales;
  if (node.op_type() == "Upsample" && opset_ < 9) {
    const onnx::AttributeProto* a = attr(node, "scales");
    if (a != nullptr) scales.assign(a->floats().begin(), a->floats().end());
  } else if (scales_in != nullptr) {
    const Constant& c = constant(node, *scales_in);
    scales = c.is_float ? c.f : std::vector<float>(c.i.begin(), c.i.end());
  }
  std::vector<int64_t> sizes;
  if (sizes_in != nullptr) {
    const std::optional<std::vector<int64_t>> v = int_values(*sizes_in);
    if (!v) fail(node, "sizes must be constants or computed from shapes");
    sizes = *v;
  }
  if (!sizes.empty() && !scales.empty()) {
    fail(node, "has both scales and sizes");
  }
  if (sizes.empty() && scales.empty()) fail(node, "needs scales or sizes");
  if ((sizes.empty() ? scales.size() : sizes.size()) != rank) {
    fail(node, "needs one scale or size per axis of its input " +
                   to_string(xs));
  }
  std::vector<int64_t> size_attr(rank, -1);
  std::vector<float> scale_attr(rank, 0.0f);
  Shape ys(rank);
  for (size_t d = 0; d < rank; ++d) {
    if (!sizes.empty()) {
      // A dynamic size equal to the input's own (the batch F.interpolate
      // copies with Shape): scale 1.
      if (sizes[d] < 0 && sizes[d] == xs[d]) {
        scale_attr[d] = 1.0f;
        ys[d] = xs[d];
      } else if (sizes[d] <= 0) {
        fail(node, "size " + std::to_string(sizes[d]) + " of axis " +
                       std::to_string(d) + " is not supported");
      } else {
        size_attr[d] = sizes[d];
        ys[d] = sizes[d];
      }
    } else {
      if (!(scales[d] > 0) || !std::isfinite(scales[d])) {
        fail(node, "scale " + std::to_string(scales[d]) + " of axis " +
                       std::to_string(d) + " is not positive");
      }
      scale_attr[d] = scales[d];
      ys[d] = xs[d] >= 0 ? static_cast<int64_t>(std::floor(
                               static_cast<double>(xs[d]) * scales[d]))
              : scales[d] == 1.0f ? xs[d]
                                  : -1;
    }
  }
  n.attrs.set_ints("sizes", size_attr);
  n.attrs.set_floats("scales", scale_attr);
  if (coord == 5) {
    if (roi_in == nullptr) fail(node, "tf_crop_and_resize needs a roi");
    const Constant& roi = constant(node, *roi_in);
    std::vector<float> r =
        roi.is_float ? roi.f : std::vector<float>(roi.i.begin(), roi.i.end());
    if (r.size() != 2 * rank) fail(node, "roi needs 2 entries per axis");
    n.attrs.set_floats("roi", r);
  }
  add_simple(node, std::move(n), ys);
}

SPRUCE_ONNX_RULE(resize, {"Resize", "Upsample"}, ImportRule::kEmptyInputs,
                 /*weight_inputs=*/{1, 2, 3});

}  // namespace spruce::converters
