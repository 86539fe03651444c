// Resize: y = x interpolated to a new size on each axis (ONNX Resize,
// opset 11 on), as separable 1-D passes from the last axis to the first,
// which is what ONNX's reference computes.
// Attributes, one entry per axis:
//   "sizes"   the output size, or -1: floor(input size · scale)
//   "scales"  the scale, or 0: output size / input size
//   "roi"     tf_crop_and_resize's region: starts, then ends (2 · rank)
// and "mode" (0 nearest, 1 linear, 2 cubic), "coord" (CoordinateMode),
// "nearest" (NearestMode), "cubic_a", "exclude_outside", "extrapolation".
// Each output coordinate maps to an input coordinate x; its neighbours are
// the 2 (nearest, linear) or 4 (cubic) input indices around x, the lower
// preferred on ties, clamped to the edge, each with its weight.
#include <cmath>
#include <cstring>

#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

enum class Mode : int64_t { kNearest, kLinear, kCubic };
enum class CoordinateMode : int64_t {
  kHalfPixel,
  kAsymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kTfHalfPixelForNn,
  kTfCropAndResize,
};
enum class NearestMode : int64_t { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

struct ResizeParams {
  Mode mode = Mode::kNearest;
  CoordinateMode coord = CoordinateMode::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  float cubic_a = -0.75f;
  bool exclude_outside = false;
  float extrapolation = 0.0f;
  std::vector<int64_t> sizes;
  std::vector<float> scales;
  std::vector<float> roi;
};

ResizeParams params_of(const NodeDesc& node) {
  ResizeParams p;
  const Attributes& a = node.attrs;
  p.mode = static_cast<Mode>(a.get_int_in("mode", 0, 0, 2));
  p.coord = static_cast<CoordinateMode>(a.get_int_in("coord", 0, 0, 5));
  p.nearest = static_cast<NearestMode>(a.get_int_in("nearest", 0, 0, 3));
  p.cubic_a = a.get_float("cubic_a", -0.75f);
  p.exclude_outside = a.get_int("exclude_outside", 0) != 0;
  p.extrapolation = a.get_float("extrapolation", 0.0f);
  p.sizes = a.get_ints("sizes");
  p.scales = a.get_floats("scales");
  if (a.has("roi")) p.roi = a.get_floats("roi");
  if (p.sizes.size() != p.scales.size()) {
    fail_node(node, "has " + std::to_string(p.sizes.size()) + " sizes and " +
                        std::to_string(p.scales.size()) + " scales");
  }
  for (size_t d = 0; d < p.sizes.size(); ++d) {
    if ((p.sizes[d] < 0) == !(p.scales[d] > 0) || p.sizes[d] == 0 ||
        !std::isfinite(p.scales[d])) {
      fail_node(node, "axis " + std::to_string(d) +
                          " needs a positive size or a positive scale");
    }
  }
  if (p.coord == CoordinateMode::kTfCropAndResize &&
      p.roi.size() != 2 * p.sizes.size()) {
    fail_node(node, "tf_crop_and_resize needs a roi of 2 entries per axis");
  }
  return p;
}

int64_t output_size(const ResizeParams& p, size_t d, int64_t in) {
  if (in < 0) return -1;
  if (p.sizes[d] >= 0) return p.sizes[d];
  return static_cast<int64_t>(
      std::floor(static_cast<double>(in) * static_cast<double>(p.scales[d])));
}

// One output index's input neighbours and their weights along an axis; a
// negative index gives the extrapolation value (tf_crop_and_resize outside
// the input).
struct Taps {
  int64_t index[4];
  float weight[4];
};

class ResizeNode final : public NodeOp {
 public:
  explicit ResizeNode(const OpInit& init)
      : NodeOp(init), p_(params_of(init.node)) {}

  void run(RunContext& ctx) const override {
    Shape shape = ctx.input_shape(0);
    const Shape& ys = ctx.output_shape();
    std::vector<float> a(ctx.input(0), ctx.input(0) + element_count(shape));
    std::vector<float> b;
    for (size_t d = shape.size(); d-- > 0;) {
      if (identity(d, shape[d], ys[d])) continue;
      resize_axis(a, shape, d, ys[d], &b);
      a.swap(b);
      shape[d] = ys[d];
    }
    std::memcpy(ctx.output(), a.data(), a.size() * sizeof(float));
  }

 private:
  bool identity(size_t d, int64_t in, int64_t out) const {
    return in == out && (p_.scales[d] == 0.0f || p_.scales[d] == 1.0f) &&
           p_.coord != CoordinateMode::kTfCropAndResize;
  }

  // The input coordinate of output index `o`, as ONNX's reference maps it
  // (its "output width" is the scale times the input size, not rounded).
  double source(size_t d, int64_t o, int64_t in, int64_t out, bool* outside) const {
    const double scale = p_.scales[d] > 0 ? p_.scales[d]
                                          : static_cast<double>(out) / in;
    const double width = scale * static_cast<double>(in);
    const double x = static_cast<double>(o);
    *outside = false;
    switch (p_.coord) {
      case CoordinateMode::kAlignCorners:
        return width == 1 ? 0.0 : x * (in - 1) / (width - 1);
      case CoordinateMode::kAsymmetric:
        return x / scale;
      case CoordinateMode::kTfHalfPixelForNn:
        return (x + 0.5) / scale;
      case CoordinateMode::kTfCropAndResize: {
        const double start = p_.roi[d], end = p_.roi[d + p_.scales.size()];
        double s = width == 1 ? (end - start) * (in - 1) / 2
                              : x * (end - start) * (in - 1) / (width - 1);
        s += start * (in - 1);
        *outside = s < 0 || s > static_cast<double>(in - 1);
        return s;
      }
      case CoordinateMode::kPytorchHalfPixel:
        return width == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
      case CoordinateMode::kHalfPixel:
        break;
    }
    return (x + 0.5) / scale - 0.5;
  }

  size_t tap_count() const { return p_.mode == Mode::kCubic ? 4 : 2; }

  Taps taps(size_t d, int64_t o, int64_t in, int64_t out) const {
    Taps t{};
    bool outside = false;
    const double x = source(d, o, in, out, &outside);
    const size_t n = tap_count();
    if (outside) {
      for (size_t k = 0; k < n; ++k) t.index[k] = -1;
      return t;
    }
    // The lower neighbour: ratio in (0, 1], an integer x taken from below.
    const double lower = std::ceil(x) - 1;
    const double ratio = x - lower;
    double w[4];
    if (p_.mode == Mode::kCubic) {
      const double a = p_.cubic_a;
      auto far = [a](double r) {  // |distance| in [1, 2)
        return ((a * r - 5 * a) * r + 8 * a) * r - 4 * a;
      };
      auto near = [a](double r) {  // |distance| in [0, 1]
        return ((a + 2) * r - (a + 3)) * r * r + 1;
      };
      w[0] = far(ratio + 1);
      w[1] = near(ratio);
      w[2] = near(1 - ratio);
      w[3] = far(2 - ratio);
    } else if (p_.mode == Mode::kLinear) {
      w[0] = 1 - ratio;
      w[1] = ratio;
    } else {
      bool upper = true;  // x an integer: the upper neighbour is x itself
      if (ratio != 1.0) {
        switch (p_.nearest) {
          case NearestMode::kRoundPreferFloor: upper = ratio > 0.5; break;
          case NearestMode::kRoundPreferCeil: upper = ratio >= 0.5; break;
          case NearestMode::kFloor: upper = false; break;
          case NearestMode::kCeil: upper = true; break;
        }
      }
      w[0] = upper ? 0 : 1;
      w[1] = upper ? 1 : 0;
    }
    const auto first = static_cast<int64_t>(lower) - (n == 4 ? 1 : 0);
    double total = 0;
    for (size_t k = 0; k < n; ++k) {
      const int64_t i = first + static_cast<int64_t>(k);
      if (p_.exclude_outside && (i < 0 || i >= in)) w[k] = 0;
      total += w[k];
    }
    for (size_t k = 0; k < n; ++k) {
      const int64_t i = first + static_cast<int64_t>(k);
      t.index[k] = std::min(std::max<int64_t>(i, 0), in - 1);
      t.weight[k] = static_cast<float>(p_.exclude_outside ? w[k] / total : w[k]);
    }
    return t;
  }

  // b = a resized along axis d of `shape` to `out`.
  void resize_axis(const std::vector<float>& a, const Shape& shape, size_t d,
                   int64_t out, std::vector<float>* b) const {
    const int64_t in = shape[d];
    const AxisSplit around = split_at_axis(shape, d);
    const size_t outer = around.outer, inner = around.inner;
    const auto out_n = static_cast<size_t>(out);
    b->assign(outer * out_n * inner, 0.0f);
    const size_t n = tap_count();
    for (size_t o = 0; o < out_n; ++o) {
      const Taps t = taps(d, static_cast<int64_t>(o), in, out);
      for (size_t q = 0; q < outer; ++q) {
        float* y = b->data() + (q * out_n + o) * inner;
        if (t.index[0] < 0) {
          std::fill(y, y + inner, p_.extrapolation);
          continue;
        }
        for (size_t k = 0; k < n; ++k) {
          if (t.weight[k] == 0.0f) continue;
          const float* x =
              a.data() + (q * static_cast<size_t>(in) +
                          static_cast<size_t>(t.index[k])) * inner;
          for (size_t e = 0; e < inner; ++e) y[e] += t.weight[k] * x[e];
        }
      }
    }
  }

  ResizeParams p_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  params_of(node);
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const ResizeParams p = params_of(node);
  const Shape& x = inputs.at(0);
  if (x.size() != p.sizes.size()) {
    fail_node(node, "input " + to_string(x) + " has a rank other than its " +
                        std::to_string(p.sizes.size()) + " sizes");
  }
  Shape y(x.size());
  for (size_t d = 0; d < x.size(); ++d) {
    y[d] = output_size(p, d, x[d]);
    if (x[d] >= 0 && y[d] < 1) {
      fail_node(node, "axis " + std::to_string(d) + " of " + to_string(x) +
                          " resizes to nothing");
    }
  }
  return {y};
}

}  // namespace

extern const OpRule kResizeRule =
    per_image({check, shapes, create_op<ResizeNode>});

}  // namespace spruce
