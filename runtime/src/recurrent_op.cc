// LSTM, GRU, RNN: the steps loop, the oneDNN path, and the choice between
// them.
#include "recurrent_op.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <random>

#include "op_params.h"
#include "spruce/kernels/recurrent_cells.h"
#include "spruce/kernels/transpose.h"
#include "workspace.h"

namespace spruce {
namespace {

// Element strides of (step t, batch b, direction d, hidden unit j) in a
// tensor.
struct Strides {
  size_t t = 0;
  size_t b = 0;
  size_t d = 0;
  size_t j = 0;
};

// dst(b, j) = src(b, j) for b < batch, j < hidden, along whichever index
// is contiguous in both.
void copy_units(const float* src, const Strides& s, float* dst,
                const Strides& ds, size_t batch, size_t hidden) {
  if (s.b == 1 && ds.b == 1) {
    for (size_t j = 0; j < hidden; ++j) {
      std::copy(src + j * s.j, src + j * s.j + batch, dst + j * ds.j);
    }
    return;
  }
  for (size_t b = 0; b < batch; ++b) {
    const float* from = src + b * s.b;
    float* to = dst + b * ds.b;
    if (s.j == 1 && ds.j == 1) {
      std::copy(from, from + hidden, to);
    } else {
      for (size_t j = 0; j < hidden; ++j) to[j * ds.j] = from[j * s.j];
    }
  }
}

// by_step[t][row][b] = projected[row][column of (t, b)]: the projection of
// all steps ([gates × seq·batch], columns in X's order) regrouped so each
// step's gates are contiguous. Rows go in tiles whose source lines stay in
// L1 while t advances.
void to_step_major(const float* projected, size_t gates, size_t seq,
                   size_t batch, bool batch_major_columns, float* by_step) {
  if (batch == 1) {
    // A plain transpose: [gates × seq] → [seq × gates].
    kernels::transpose(projected, gates, seq, seq, by_step, gates);
    return;
  }
  constexpr size_t kTile = 16;
  const size_t n = seq * batch;
  const size_t t_stride = batch_major_columns ? 1 : batch;
  const size_t b_stride = batch_major_columns ? seq : 1;
  for (size_t r0 = 0; r0 < gates; r0 += kTile) {
    const size_t r1 = std::min(gates, r0 + kTile);
    for (size_t t = 0; t < seq; ++t) {
      for (size_t r = r0; r < r1; ++r) {
        const float* src = projected + r * n + t * t_stride;
        float* dst = by_step + (t * gates + r) * batch;
        for (size_t b = 0; b < batch; ++b) dst[b] = src[b * b_stride];
      }
    }
  }
}

// Y as the node lays it out: merged (feature-major when `feature_major`,
// else row-major) or ONNX's 4-D form.
Strides y_strides(const RecurrentParams& p, bool feature_major, size_t seq,
                  size_t batch, size_t hidden) {
  const size_t dirs = p.directions();
  Strides s;
  if (p.merged_output && !feature_major) {
    const size_t width = dirs * hidden;
    s.t = p.output_batch_major ? width : batch * width;
    s.b = p.output_batch_major ? seq * width : width;
    s.d = hidden;
    s.j = 1;
  } else if (p.merged_output) {
    const size_t n = seq * batch;  // columns, in Y's leading-dimension order
    s.t = p.output_batch_major ? 1 : batch;
    s.b = p.output_batch_major ? seq : 1;
    s.d = hidden * n;
    s.j = n;
  } else if (p.output_batch_major) {  // [batch, seq, dirs, H]
    s.b = seq * dirs * hidden;
    s.t = dirs * hidden;
    s.d = hidden;
    s.j = 1;
  } else {  // [seq, dirs, batch, H]
    s.t = dirs * batch * hidden;
    s.d = batch * hidden;
    s.b = hidden;
    s.j = 1;
  }
  return s;
}

// Initial and final states, row-major: [batch, dirs, H] or [rows, batch, H].
Strides state_strides(const RecurrentParams& p, size_t batch, size_t hidden) {
  Strides s;
  s.j = 1;
  if (p.state_batch_major) {
    s.b = p.directions() * hidden;
    s.d = hidden;
  } else {
    s.d = batch * hidden;
    s.b = hidden;
  }
  return s;
}

// h and c inside the steps loop: [H × batch], feature-major.
Strides unit_strides(size_t batch) { return {0, 1, 0, batch}; }

}  // namespace

RecurrentOp::RecurrentOp(const Graph& graph, const NodeDesc& node,
                         const LinearPlanOptions& options,
                         const dnnl::engine& engine)
    : params_(recurrent_params_of(node.op, node.attrs)),
      in_(static_cast<size_t>(graph.weights[node.weights[0]].shape[1])),
      hidden_(params_.hidden_size),
      dirs_(params_.directions()),
      gates_(params_.gates() * hidden_) {
  bool any_sparse = false;
  double zeros = 0;
  double total = 0;
  std::vector<std::vector<float>> densified;
  densified.reserve(2 * dirs_);
  std::vector<DenseRecurrent::DirectionWeights> dense_weights;
  auto dense_values = [&](const WeightDesc& w) {
    zeros += w.sparsity() * static_cast<double>(w.dense_count());
    total += static_cast<double>(w.dense_count());
    if (w.layout == WeightLayout::kDense) return w.values;
    any_sparse = true;
    densified.push_back(w.to_dense());
    return static_cast<const float*>(densified.back().data());
  };
  const size_t per_dir = params_.weights_per_direction();
  for (size_t d = 0; d < dirs_; ++d) {
    const uint32_t* ws = node.weights.data() + per_dir * d;
    const float* w = dense_values(graph.weights[ws[0]]);
    const float* r = dense_values(graph.weights[ws[1]]);
    if (params_.cell == RecurrentCell::kGru) {
      // oneDNN takes R whole: Rzr over Rh.
      const float* rh = dense_values(graph.weights[ws[2]]);
      std::vector<float> whole(r, r + 2 * hidden_ * hidden_);
      whole.insert(whole.end(), rh, rh + hidden_ * hidden_);
      densified.push_back(std::move(whole));
      r = densified.back().data();
    }
    dense_weights.push_back(
        {w, r, graph.weights[ws[params_.bias_index()]].values});
  }
  const bool onednn_allowed =
      (options.allowed & kernel_bit(LinearKernel::kOneDnn)) != 0;
  if (onednn_allowed) {
    dense_ =
        std::make_unique<DenseRecurrent>(engine, params_, in_, dense_weights);
  }
  const bool sparse = any_sparse && !options.force_dense;
  if (!options.measure) {
    // Threshold mode: the steps loop when pruned enough, else oneDNN.
    if (sparse && total > 0 && zeros / total >= options.min_sparsity) {
      steps_ = make_directions(graph, node, options, engine);
      choice_.fix(Kernel::kSteps);
    } else if (onednn_allowed) {
      choice_.fix(Kernel::kOneDnn);
    } else {
      LinearPlanOptions dense = options;
      dense.force_dense = true;
      dense_steps_ = make_directions(graph, node, dense, engine);
      choice_.fix(Kernel::kDenseSteps);
    }
  } else {
    LinearPlanOptions dense = options;
    dense.force_dense = true;
    dense_steps_ = make_directions(graph, node, dense, engine);
    if (sparse) steps_ = make_directions(graph, node, options, engine);
    std::vector<Candidate<Kernel>> candidates;
    if (onednn_allowed) candidates.push_back({Kernel::kOneDnn, true});
    candidates.push_back({Kernel::kDenseSteps, true});
    if (sparse) candidates.push_back({Kernel::kSteps, false});
    choice_.choose(candidates,
                   {std::begin(kBatchProbes), std::end(kBatchProbes)},
                   [&](Kernel k, size_t batch) {
                     return time_kernel(k, batch, options.max_threads);
                   });
  }
  if (!choice_.uses(Kernel::kSteps)) steps_.clear();
  if (!choice_.uses(Kernel::kDenseSteps)) dense_steps_.clear();
  if (!choice_.uses(Kernel::kOneDnn)) dense_.reset();
}

// Each direction's two products as LinearOps planned with `options`, both
// reading and writing feature-major activations (h is [H × batch]).
std::vector<RecurrentOp::Direction> RecurrentOp::make_directions(
    const Graph& graph, const NodeDesc& node, const LinearPlanOptions& options,
    const dnnl::engine& engine) const {
  std::vector<Direction> directions;
  const size_t per_dir = params_.weights_per_direction();
  auto linear = [&](const WeightDesc& matrix, const WeightDesc* bias) {
    return std::make_unique<LinearOp>(matrix, bias, kernels::Activation::kNone,
                                      /*x_feature_major=*/true,
                                      /*y_feature_major=*/true, options,
                                      engine);
  };
  for (size_t d = 0; d < dirs_; ++d) {
    const uint32_t* ws = node.weights.data() + per_dir * d;
    Direction dir;
    dir.reverse = params_.direction == RecurrentDirection::kReverse || d == 1;
    // The projection adds B's first G·H entries; a GRU's last H (Rbh) go
    // with the candidate's product. A LinearOp reads only a bias's values.
    const WeightDesc& b = graph.weights[ws[params_.bias_index()]];
    WeightDesc projection_bias = b;
    projection_bias.shape = {static_cast<int64_t>(gates_)};
    dir.projection = linear(graph.weights[ws[0]], &projection_bias);
    dir.recurrent = linear(graph.weights[ws[1]], nullptr);
    if (params_.cell == RecurrentCell::kGru) {
      WeightDesc candidate_bias = b;
      candidate_bias.shape = {static_cast<int64_t>(hidden_)};
      candidate_bias.values = b.values + gates_;
      dir.candidate = linear(graph.weights[ws[2]], &candidate_bias);
    }
    directions.push_back(std::move(dir));
  }
  return directions;
}

// Best of a few runs over kProbeSteps steps of random input, after a
// warm-up that also compiles oneDNN's primitive for the shape.
double RecurrentOp::time_kernel(Kernel kernel, size_t batch,
                                int num_threads) const {
  const size_t seq = kProbeSteps;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(seq * batch * in_);
  for (float& v : x) v = u(rng);
  std::vector<float> y(seq * batch * dirs_ * hidden_);
  std::vector<float> y_h(dirs_ * batch * hidden_), y_c(y_h.size());
  Io io;
  io.x = x.data();
  io.seq = seq;
  io.batch = batch;
  io.y = y.data();
  io.y_h = y_h.data();
  if (params_.cell == RecurrentCell::kLstm) io.y_c = y_c.data();
  return best_time([&] { run_kernel(kernel, io, num_threads); },
                   std::chrono::milliseconds(30), 10);
}

std::string RecurrentOp::kernel_name(size_t batch) const {
  const Kernel kernel = choice_.at(batch).kernel;
  if (kernel == Kernel::kOneDnn) {
    return params_.cell == RecurrentCell::kLstm  ? "onednn-lstm"
           : params_.cell == RecurrentCell::kGru ? "onednn-gru"
                                                 : "onednn-rnn";
  }
  const Direction& dir =
      (kernel == Kernel::kSteps ? steps_ : dense_steps_).front();
  return std::string("steps(") +
         linear_kernel_name(dir.projection->kernel_for(batch * kProbeSteps)) +
         ", " + linear_kernel_name(dir.recurrent->kernel_for(batch)) + ")";
}

double RecurrentOp::onednn_multiply_adds(size_t seq, size_t batch) const {
  // Rows of each product times its columns (seq · batch for all).
  const auto columns = static_cast<double>(seq * batch);
  const auto gates = static_cast<double>(gates_);
  const Kernel kernel = choice_.at(std::max<size_t>(batch, 1)).kernel;
  if (kernel == Kernel::kOneDnn) {
    return columns * gates * static_cast<double>((in_ + hidden_) * dirs_);
  }
  double macs = 0;
  for (const Direction& dir :
       kernel == Kernel::kSteps ? steps_ : dense_steps_) {
    if (dir.projection->kernel_for(seq * batch) == LinearKernel::kOneDnn) {
      macs += columns * gates * static_cast<double>(in_);
    }
    const auto recurrent_rows =
        static_cast<double>(dir.candidate ? gates_ - hidden_ : gates_);
    if (dir.recurrent->kernel_for(batch) == LinearKernel::kOneDnn) {
      macs += columns * recurrent_rows * static_cast<double>(hidden_);
    }
    if (dir.candidate &&
        dir.candidate->kernel_for(batch) == LinearKernel::kOneDnn) {
      macs += columns * static_cast<double>(hidden_ * hidden_);
    }
  }
  return macs;
}

void RecurrentOp::run(const Io& io, int num_threads) const {
  // An empty sequence or batch leaves only states to copy, which the steps
  // loop does without any product.
  if (io.seq == 0 || io.batch == 0) return run_steps({}, io, num_threads);
  run_kernel(choice_.at(io.batch).kernel, io, num_threads);
}

void RecurrentOp::run_kernel(Kernel kernel, const Io& io,
                             int num_threads) const {
  switch (kernel) {
    case Kernel::kSteps:
      return run_steps(steps_, io, num_threads);
    case Kernel::kDenseSteps:
      return run_steps(dense_steps_, io, num_threads);
    case Kernel::kOneDnn:
      return run_onednn(io);
  }
}

void RecurrentOp::run_steps(const std::vector<Direction>& directions,
                            const Io& io, int num_threads) const {
  const size_t seq = io.seq;
  const size_t batch = io.batch;
  const size_t n = seq * batch;
  const size_t gates = gates_;
  const size_t units = hidden_ * batch;
  // The loop's buffers, from this thread's workspace: a steady stream of
  // runs allocates nothing.
  float* projected =
      thread_workspace_as<float>(WorkspaceSlot::kRecurrentState,
                                 2 * gates * n + gates * batch + 3 * units);
  float* by_step = projected + gates * n;
  float* recurrent = by_step + gates * n;
  float* h = recurrent + gates * batch;
  float* c = h + units;        // an LSTM's cell state
  float* reset_h = c + units;  // a GRU's r ⊙ h
  const Strides inner = unit_strides(batch);
  const Strides ys =
      y_strides(params_, io.y_feature_major, seq, batch, hidden_);
  const Strides ss = state_strides(params_, batch, hidden_);
  const size_t initial_base = params_.state_offset * batch * hidden_;
  const kernels::CellActivation rnn_activation =
      params_.activation == RnnActivation::kRelu
          ? kernels::CellActivation::kRelu
      : params_.activation == RnnActivation::kSigmoid
          ? kernels::CellActivation::kSigmoid
          : kernels::CellActivation::kTanh;
  for (size_t d = 0; d < dirs_; ++d) {
    const bool have_h = io.h0 != nullptr;
    const bool have_c = io.c0 != nullptr;
    std::fill(h, h + units, 0.0f);
    std::fill(c, c + units, 0.0f);
    if (have_h)
      copy_units(io.h0 + initial_base + d * ss.d, ss, h, inner, batch, hidden_);
    if (have_c)
      copy_units(io.c0 + initial_base + d * ss.d, ss, c, inner, batch, hidden_);
    if (n > 0) {
      const Direction& dir = directions[d];
      dir.projection->run(io.x, n, projected, num_threads);
      to_step_major(projected, gates, seq, batch, params_.input_batch_major,
                    by_step);
      for (size_t s = 0; s < seq; ++s) {
        const size_t t = dir.reverse ? seq - 1 - s : s;
        const float* gx = by_step + t * gates * batch;
        // Before the first step h is zero unless given: the product is too.
        const bool h_nonzero = s > 0 || have_h;
        switch (params_.cell) {
          case RecurrentCell::kLstm: {
            if (h_nonzero) dir.recurrent->run(h, batch, recurrent, num_threads);
            kernels::lstm_cell(gx, h_nonzero ? recurrent : nullptr, units,
                               s > 0 || have_c ? c : nullptr, c, h);
            break;
          }
          case RecurrentCell::kGru: {
            // Rzr · h, then the candidate's product: it adds Rbh, so it runs
            // on a zero h too.
            float* candidate = recurrent + 2 * units;
            if (h_nonzero) {
              dir.recurrent->run(h, batch, recurrent, num_threads);
            } else {
              std::fill(recurrent, candidate, 0.0f);
            }
            if (params_.linear_before_reset) {
              dir.candidate->run(h, batch, candidate, num_threads);
            } else {
              kernels::gru_reset_hidden(gx, recurrent, units, h, reset_h);
              dir.candidate->run(reset_h, batch, candidate, num_threads);
            }
            kernels::gru_cell(gx, recurrent, units, h,
                              params_.linear_before_reset, h);
            break;
          }
          case RecurrentCell::kRnn: {
            if (h_nonzero) dir.recurrent->run(h, batch, recurrent, num_threads);
            kernels::rnn_cell(gx, h_nonzero ? recurrent : nullptr, units,
                              rnn_activation, h);
            break;
          }
        }
        if (io.y != nullptr) {
          copy_units(h, inner, io.y + t * ys.t + d * ys.d, ys, batch, hidden_);
        }
      }
    }
    if (io.y_h != nullptr)
      copy_units(h, inner, io.y_h + d * ss.d, ss, batch, hidden_);
    if (io.y_c != nullptr)
      copy_units(c, inner, io.y_c + d * ss.d, ss, batch, hidden_);
  }
}

void RecurrentOp::run_onednn(const Io& io) const {
  const size_t seq = io.seq;
  const size_t batch = io.batch;
  const size_t state = dirs_ * batch * hidden_;
  const Strides ss = state_strides(params_, batch, hidden_);
  // oneDNN wants states as [dirs, batch, H].
  const Strides packed{0, hidden_, batch * hidden_, 1};
  std::vector<float> h0, c0;
  auto initial = [&](const float* given, std::vector<float>* copy) {
    if (given == nullptr) return given;
    if (!params_.state_batch_major) {
      return given + params_.state_offset * batch * hidden_;
    }
    copy->resize(state);
    for (size_t d = 0; d < dirs_; ++d) {
      copy_units(given + d * ss.d, ss, copy->data() + d * packed.d, packed,
                 batch, hidden_);
    }
    return static_cast<const float*>(copy->data());
  };
  const float* h0p = initial(io.h0, &h0);
  const float* c0p = initial(io.c0, &c0);

  // Y as oneDNN writes it: directions side by side, row-major.
  const bool y_bm = params_.output_batch_major;
  const size_t width = dirs_ * hidden_;
  const Strides dnnl_y{y_bm ? width : batch * width, y_bm ? seq * width : width,
                       hidden_, 1};
  const Strides ys =
      y_strides(params_, io.y_feature_major, seq, batch, hidden_);
  const bool y_direct = io.y != nullptr && ys.t == dnnl_y.t &&
                        ys.b == dnnl_y.b && ys.d == dnnl_y.d && ys.j == 1;
  std::vector<float> y_tmp, hy_tmp, cy_tmp;
  float* y = io.y;
  if (!y_direct) {
    y_tmp.resize(seq * batch * width);
    y = y_tmp.data();
  }
  const bool states_direct = !params_.state_batch_major;
  float* hy = io.y_h;
  float* cy = io.y_c;
  if (hy == nullptr || !states_direct) {
    hy_tmp.resize(state);
    hy = hy_tmp.data();
  }
  if (params_.cell == RecurrentCell::kLstm &&
      (cy == nullptr || !states_direct)) {
    cy_tmp.resize(state);
    cy = cy_tmp.data();
  }
  dense_->run(io.x, params_.input_batch_major, seq, batch, h0p, c0p, y, y_bm,
              hy, cy);
  if (io.y != nullptr && !y_direct) {
    for (size_t t = 0; t < seq; ++t) {
      for (size_t d = 0; d < dirs_; ++d) {
        copy_units(y + t * dnnl_y.t + d * dnnl_y.d, dnnl_y,
                   io.y + t * ys.t + d * ys.d, ys, batch, hidden_);
      }
    }
  }
  if (!states_direct) {
    for (size_t d = 0; d < dirs_; ++d) {
      if (io.y_h != nullptr)
        copy_units(hy + d * packed.d, packed, io.y_h + d * ss.d, ss, batch,
                   hidden_);
      if (io.y_c != nullptr)
        copy_units(cy + d * packed.d, packed, io.y_c + d * ss.d, ss, batch,
                   hidden_);
    }
  }
}

}  // namespace spruce
