// The weightless tensor ops (see tensor_ops.h).
#include "tensor_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "parallel.h"
#include "spruce/error.h"
#include "spruce/kernels/elementwise.h"
#include "spruce/kernels/epilogue.h"
#include "spruce/kernels/rows.h"
#include "workspace.h"

namespace spruce {

std::vector<size_t> broadcast_strides(const Shape& shape, size_t rank) {
  std::vector<size_t> strides(rank, 0);
  size_t stride = 1;
  for (size_t k = shape.size(); k-- > 0;) {
    const size_t d = rank - shape.size() + k;
    strides[d] = shape[k] == 1 ? 0 : stride;
    stride *= static_cast<size_t>(shape[k]);
  }
  return strides;
}

namespace {

// With `full` of shape ys and `part` equal to ys on its leading dimensions
// and 1 on the rest ([N, C, 1, 1] against [N, C, H, W]: squeeze-excite's
// scale and per-channel terms in NCHW), the number of `part`'s values;
// each applies to a contiguous run of count / that many elements. 0 if the
// shapes are otherwise.
size_t leading_runs(const Shape& part, const Shape& ys) {
  if (part.size() != ys.size()) return 0;
  size_t k = 0, runs = 1;
  while (k < ys.size() && part[k] == ys[k])
    runs *= static_cast<size_t>(ys[k++]);
  for (size_t d = k; d < ys.size(); ++d) {
    if (part[d] != 1) return 0;
  }
  return runs;
}

// With `full` of shape ys and `part` equal to ys on its trailing
// dimensions and 1 (or absent) on the rest ([C] or [1, 1, 1, C] against
// [N, H, W, C]: a per-channel term channels-last, a bias over the last
// axis), the number of `part`'s values, which repeat every that many
// elements of `full`. 0 if the shapes are otherwise.
size_t trailing_period(const Shape& part, const Shape& ys) {
  if (part.size() > ys.size()) return 0;
  const size_t lead = ys.size() - part.size();
  size_t k = ys.size(), period = 1;
  while (k > lead && part[k - 1 - lead] == ys[k - 1]) {
    period *= static_cast<size_t>(ys[--k]);
  }
  for (size_t d = lead; d < k; ++d) {
    if (part[d - lead] != 1) return 0;
  }
  return period;
}

// Two operands as rows (see kernels::ArithOperand): y[r, k] for r < rows,
// k < n, each operand a full row or one value repeated along it. Covers
// equal shapes, a scalar, and a per-channel term in NCHW (leading runs) or
// channels-last (trailing period), on either side; false for other shapes.
bool row_pattern(const float* a, const Shape& as, const float* b,
                 const Shape& bs, const Shape& ys, size_t* rows, size_t* n,
                 kernels::ArithOperand* pa, kernels::ArithOperand* pb) {
  const size_t count = element_count(ys);
  const auto full = [](const float* p, size_t step) {
    return kernels::ArithOperand{p, step, false};
  };
  const auto repeated = [](const float* p, size_t step) {
    return kernels::ArithOperand{p, step, true};
  };
  // `x` of shape ys against `part`; swapped says part is a.
  const auto fit = [&](const float* x, const float* part, const Shape& ps,
                       bool swapped) {
    kernels::ArithOperand fx, fp;
    if (ps == ys) {
      *rows = 1, *n = count, fx = full(x, 0), fp = full(part, 0);
    } else if (element_count(ps) == 1) {
      *rows = 1, *n = count, fx = full(x, 0), fp = repeated(part, 0);
    } else if (const size_t period = trailing_period(ps, ys);
               period > 1 && period < count) {
      *rows = count / period, *n = period;
      fx = full(x, period), fp = full(part, 0);
    } else if (const size_t runs = leading_runs(ps, ys);
               runs > 1 && runs < count) {
      *rows = runs, *n = count / runs;
      fx = full(x, *n), fp = repeated(part, 1);
    } else {
      return false;
    }
    *pa = swapped ? fp : fx;
    *pb = swapped ? fx : fp;
    return true;
  };
  return (as == ys && fit(a, b, bs, false)) ||
         (bs == ys && fit(b, a, as, true));
}

template <bool kRepeatA, bool kRepeatB, typename F>
void rows_as(kernels::ArithOperand a, kernels::ArithOperand b, size_t rows,
             size_t n, float* y, F f) {
  for (size_t r = 0; r < rows; ++r) {
    const float* ar = a.data + r * a.row_step;
    const float* br = b.data + r * b.row_step;
    float* yr = y + r * n;
    for (size_t k = 0; k < n; ++k) {
      yr[k] = f(ar[kRepeatA ? 0 : k], br[kRepeatB ? 0 : k]);
    }
  }
}

template <typename F>
void binary_with(const float* a, const Shape& as, const float* b,
                 const Shape& bs, float* y, const Shape& ys, F f,
                 std::optional<kernels::Arith> arith) {
  size_t rows = 0, n = 0;
  kernels::ArithOperand pa, pb;
  if (!row_pattern(a, as, b, bs, ys, &rows, &n, &pa, &pb)) {
    broadcast_map<2>({a, b}, {&as, &bs}, ys, y, f);
  } else if (arith) {
    kernels::arith_rows(*arith, pa, pb, rows, n, y);
  } else if (pa.repeated) {
    rows_as<true, false>(pa, pb, rows, n, y, f);
  } else if (pb.repeated) {
    rows_as<false, true>(pa, pb, rows, n, y, f);
  } else {
    rows_as<false, false>(pa, pb, rows, n, y, f);
  }
}

// The Highway kernel's form of `op`, where it has one.
std::optional<kernels::Arith> arith_of(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return kernels::Arith::kAdd;
    case BinaryOp::kSub:
      return kernels::Arith::kSub;
    case BinaryOp::kMul:
      return kernels::Arith::kMul;
    case BinaryOp::kDiv:
      return kernels::Arith::kDiv;
    default:
      return std::nullopt;
  }
}

}  // namespace

void binary(BinaryOp op, const float* a, const Shape& as, const float* b,
            const Shape& bs, float* y, const Shape& ys) {
  switch (op) {
#define SPRUCE_BINARY(name, code, onnx, f)                                \
  case BinaryOp::k##name:                                                 \
    return binary_with(                                                   \
        a, as, b, bs, y, ys, [](float p, float q) -> float { return f; }, \
        arith_of(op));
#include "ops/binary_list.inc"
#undef SPRUCE_BINARY
  }
}

void where(const float* cond, const Shape& cs, const float* a, const Shape& as,
           const float* b, const Shape& bs, float* y, const Shape& ys) {
  broadcast_map<3>({cond, a, b}, {&cs, &as, &bs}, ys, y,
                   [](float c, float p, float q) { return c != 0.0f ? p : q; });
}

namespace {

template <typename F>
void map_elements(const float* in, size_t count, float* out, F f) {
  for (size_t k = 0; k < count; ++k) out[k] = f(in[k]);
}

}  // namespace

void unary(UnaryOp op, float alpha, float beta, const float* in, size_t count,
           float* out) {
  // The activations the kernels' epilogue has in Highway run vectorized.
  auto vectorized = [&](kernels::Activation act) {
    if (out != in) std::memcpy(out, in, count * sizeof(float));
    kernels::apply_epilogue(out, 1, count, {nullptr, act});
  };
  switch (op) {
    case UnaryOp::kTanh:
      return vectorized(kernels::Activation::kTanh);
    case UnaryOp::kGelu:
      return vectorized(kernels::Activation::kGelu);
    case UnaryOp::kSigmoid:
      return vectorized(kernels::Activation::kSigmoid);
    case UnaryOp::kHardSwish:
      return vectorized(kernels::Activation::kHardSwish);
    default:
      break;
  }
  switch (op) {
#define SPRUCE_UNARY(name, code, onnx, a_name, a_default, b_name, b_default, \
                     f)                                                      \
  case UnaryOp::k##name:                                                     \
    return map_elements(in, count, out, [alpha, beta](float x) {             \
      [[maybe_unused]] const float a = alpha;                                \
      [[maybe_unused]] const float b = beta;                                 \
      return f;                                                              \
    });
#include "ops/unary_list.inc"
#undef SPRUCE_UNARY
  }
}

namespace {

// Reduces x over the `reduced` dimensions with `step` from `start`, then
// `end` (of the sum and the count) per output.
template <typename Step, typename End>
void reduce_with(const float* x, const Shape& xs,
                 const std::vector<bool>& reduced, double start, Step step,
                 End end, float* y) {
  const size_t rank = xs.size();
  // Output strides over the input's dimensions, 0 on reduced ones.
  std::vector<size_t> out_stride(rank, 0);
  size_t stride = 1, out_count = 1, group = 1;
  for (size_t d = rank; d-- > 0;) {
    if (reduced[d]) {
      group *= static_cast<size_t>(xs[d]);
    } else {
      out_stride[d] = stride;
      stride *= static_cast<size_t>(xs[d]);
      out_count *= static_cast<size_t>(xs[d]);
    }
  }
  const auto n = static_cast<double>(group);
  if (rank > 0 && reduced[rank - 1] &&
      std::all_of(reduced.begin(), reduced.end() - 1,
                  [&](bool r) { return !r; })) {
    // The common case (LayerNorm's pieces): contiguous rows.
    const auto width = static_cast<size_t>(xs[rank - 1]);
    for (size_t r = 0; r < out_count; ++r) {
      double acc = start;
      for (size_t j = 0; j < width; ++j) acc = step(acc, x[r * width + j]);
      y[r] = static_cast<float>(end(acc, n));
    }
    return;
  }
  std::vector<double> acc(out_count, start);
  const size_t count = element_count(xs);
  std::vector<size_t> index(rank, 0);
  size_t o = 0;
  for (size_t k = 0; k < count; ++k) {
    acc[o] = step(acc[o], x[k]);
    for (size_t d = rank; d-- > 0;) {
      ++index[d];
      o += out_stride[d];
      if (index[d] < static_cast<size_t>(xs[d])) break;
      o -= out_stride[d] * index[d];
      index[d] = 0;
    }
  }
  for (size_t r = 0; r < out_count; ++r) {
    y[r] = static_cast<float>(end(acc[r], n));
  }
}

}  // namespace

void reduce(ReduceOp op, const float* in, const Shape& in_shape,
            const std::vector<int64_t>& axes, float* out) {
  std::vector<bool> reduced(in_shape.size(), axes.empty());
  for (int64_t a : axes) reduced[static_cast<size_t>(a)] = true;
  switch (op) {
#define SPRUCE_REDUCE(name, code, onnx, start, step, end)                    \
  case ReduceOp::k##name:                                                    \
    return reduce_with(                                                      \
        in, in_shape, reduced, start,                                        \
        [](double acc, double x_k) {                                         \
          [[maybe_unused]] const double x = x_k;                             \
          return step;                                                       \
        },                                                                   \
        [](double acc, [[maybe_unused]] double n) { return end; }, out);
#include "ops/reduce_list.inc"
#undef SPRUCE_REDUCE
  }
}

namespace {

// One row of `len` values: log(softmax), or 1 at the first maximum and 0
// elsewhere.
void normalize_row(SoftmaxKind kind, const float* in, size_t len, float* out) {
  if (kind == SoftmaxKind::kSoftmax) {
    kernels::softmax_rows(in, 1, len, out);
    return;
  }
  size_t arg = 0;
  for (size_t j = 1; j < len; ++j) {
    if (in[j] > in[arg]) arg = j;
  }
  if (kind == SoftmaxKind::kHardmax) {
    for (size_t j = 0; j < len; ++j) out[j] = j == arg ? 1.0f : 0.0f;
    return;
  }
  const float max = in[arg];
  double sum = 0;
  for (size_t j = 0; j < len; ++j) sum += std::exp(double{in[j]} - max);
  const auto log_sum = static_cast<float>(std::log(sum));
  for (size_t j = 0; j < len; ++j) out[j] = in[j] - max - log_sum;
}

}  // namespace

AxisSplit split_at_axis(const Shape& shape, size_t axis) {
  AxisSplit s;
  for (size_t d = 0; d < axis; ++d) s.outer *= static_cast<size_t>(shape[d]);
  s.len = static_cast<size_t>(shape[axis]);
  for (size_t d = axis + 1; d < shape.size(); ++d) {
    s.inner *= static_cast<size_t>(shape[d]);
  }
  return s;
}

void softmax(SoftmaxKind kind, const float* x, const Shape& xs, size_t axis,
             bool coerce_2d, float* y) {
  const AxisSplit around = split_at_axis(xs, axis);
  const size_t outer = around.outer, len = around.len, inner = around.inner;
  if (coerce_2d || inner == 1) {
    const size_t row = len * inner;
    if (kind == SoftmaxKind::kSoftmax) {
      kernels::softmax_rows(x, outer, row, y);
      return;
    }
    for (size_t o = 0; o < outer; ++o) {
      normalize_row(kind, x + o * row, row, y + o * row);
    }
    return;
  }
  // Along a middle axis: gather each strided line, normalize it, scatter.
  std::vector<float> line(len);
  for (size_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < inner; ++i) {
      const size_t base = o * len * inner + i;
      for (size_t j = 0; j < len; ++j) line[j] = x[base + j * inner];
      normalize_row(kind, line.data(), len, line.data());
      for (size_t j = 0; j < len; ++j) y[base + j * inner] = line[j];
    }
  }
}

std::vector<size_t> row_major_strides(const Shape& shape) {
  std::vector<size_t> strides(shape.size());
  size_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= static_cast<size_t>(shape[d]);
  }
  return strides;
}

void transpose(const float* x, const Shape& xs,
               const std::vector<int64_t>& perm, float* y) {
  const size_t rank = xs.size();
  const size_t count = element_count(xs);
  if (rank == 0 || count == 0) {
    if (count == 1) y[0] = x[0];
    return;
  }
  const std::vector<size_t> x_stride = row_major_strides(xs);
  Shape ys(rank);
  std::vector<size_t> src_stride(rank);  // x stride of y's dimension d
  for (size_t d = 0; d < rank; ++d) {
    ys[d] = xs[static_cast<size_t>(perm[d])];
    src_stride[d] = x_stride[static_cast<size_t>(perm[d])];
  }
  // Copies runs of the innermost dimension (memcpy when it stays last).
  const auto inner = static_cast<size_t>(ys[rank - 1]);
  const size_t inner_stride = src_stride[rank - 1];
  std::vector<size_t> index(rank, 0);
  size_t offset = 0;
  for (size_t base = 0; base < count; base += inner) {
    if (inner_stride == 1) {
      std::memcpy(y + base, x + offset, inner * sizeof(float));
    } else {
      for (size_t j = 0; j < inner; ++j)
        y[base + j] = x[offset + j * inner_stride];
    }
    for (size_t d = rank - 1; d-- > 0;) {
      ++index[d];
      offset += src_stride[d];
      if (index[d] < static_cast<size_t>(ys[d])) break;
      offset -= src_stride[d] * index[d];
      index[d] = 0;
    }
  }
}

void slice(const float* x, const Shape& xs, const std::vector<SliceDim>& dims,
           float* y, const Shape& ys) {
  const size_t rank = xs.size();
  std::vector<int64_t> start(rank, 0), step(rank, 1);
  for (const SliceDim& d : dims) {
    start[static_cast<size_t>(d.axis)] = d.start;
    step[static_cast<size_t>(d.axis)] = d.step;
  }
  std::vector<int64_t> x_stride(rank);
  int64_t stride = 1;
  for (size_t d = rank; d-- > 0;) {
    x_stride[d] = stride;
    stride *= xs[d];
  }
  int64_t origin = 0;
  for (size_t d = 0; d < rank; ++d) origin += start[d] * x_stride[d];
  const size_t count = element_count(ys);
  std::vector<int64_t> index(rank, 0);
  int64_t offset = origin;
  for (size_t k = 0; k < count; ++k) {
    y[k] = x[offset];
    for (size_t d = rank; d-- > 0;) {
      ++index[d];
      offset += step[d] * x_stride[d];
      if (index[d] < ys[d]) break;
      offset -= step[d] * x_stride[d] * index[d];
      index[d] = 0;
    }
  }
}

void split(const float* x, const Shape& xs, size_t axis,
           const std::vector<int64_t>& sizes, const std::vector<float*>& outs) {
  const AxisSplit around = split_at_axis(xs, axis);
  const size_t outer = around.outer, len = around.len, inner = around.inner;
  const size_t row = len * inner;
  size_t offset = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    const size_t part = static_cast<size_t>(sizes[k]) * inner;
    for (size_t o = 0; o < outer; ++o) {
      std::memcpy(outs[k] + o * part, x + o * row + offset,
                  part * sizeof(float));
    }
    offset += part;
  }
}

void gather_rows(const float* table, size_t rows, size_t width,
                 const float* ids, size_t count, float* y,
                 const std::string& node) {
  const auto n = static_cast<float>(rows);
  for (size_t i = 0; i < count; ++i) {
    // ONNX counts negative indices from the end.
    const float id = ids[i] < 0.0f ? ids[i] + n : ids[i];
    if (!(id >= 0.0f && id < n) || id != std::floor(id)) {
      throw Error("Gather node '" + node + "': index " +
                  std::to_string(ids[i]) + " at position " + std::to_string(i) +
                  " is not a row of the " + std::to_string(rows) +
                  "-row table");
    }
    std::memcpy(y + i * width, table + static_cast<size_t>(id) * width,
                width * sizeof(float));
  }
}

// ---------------------------------------------------------------- MatMul

struct MatMulOp::Compiled {
  dnnl::matmul primitive;
  dnnl::memory::desc a, b, y, scratchpad;
};

MatMulOp::MatMulOp(const dnnl::engine& engine) : engine_(engine) {}
MatMulOp::~MatMulOp() = default;

std::shared_ptr<const MatMulOp::Compiled> MatMulOp::compile(
    const Shape& as, const Shape& bs, const Shape& ys) const {
  // oneDNN wants equal ranks: leading 1s broadcast.
  const size_t rank = ys.size();
  auto padded = [&](const Shape& s) {
    dnnl::memory::dims d(rank - s.size(), 1);
    d.insert(d.end(), s.begin(), s.end());
    return d;
  };
  using dt = dnnl::memory::data_type;
  auto c = std::make_shared<Compiled>();
  auto plain = [&](const dnnl::memory::dims& dims) {
    dnnl::memory::dims strides(dims.size());
    dnnl::memory::dim stride = 1;
    for (size_t d = dims.size(); d-- > 0;) {
      strides[d] = stride;
      stride *= dims[d];
    }
    return dnnl::memory::desc(dims, dt::f32, strides);
  };
  try {
    c->a = plain(padded(as));
    c->b = plain(padded(bs));
    c->y = plain(padded(ys));
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::matmul::desc desc(c->a, c->b, c->y);
    const dnnl::matmul::primitive_desc pd(desc, attr, engine_);
    c->scratchpad = pd.scratchpad_desc();
    c->primitive = dnnl::matmul(pd);
  } catch (const dnnl::error& e) {
    throw Error("oneDNN matmul of " + to_string(as) + " and " + to_string(bs) +
                ": " + e.what());
  }
  return c;
}

void MatMulOp::run(const float* a, const Shape& as, const float* b,
                   const Shape& bs, float* y, const Shape& ys) const {
  const std::shared_ptr<const Compiled> c =
      cache_.get(std::make_pair(as, bs), [&] { return compile(as, bs, ys); });
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory(c->a, engine_, const_cast<float*>(a))},
      {DNNL_ARG_WEIGHTS, dnnl::memory(c->b, engine_, const_cast<float*>(b))},
      {DNNL_ARG_DST, dnnl::memory(c->y, engine_, y)}};
  execute_primitive(c->primitive, engine_, std::move(args), c->scratchpad);
}

}  // namespace spruce
