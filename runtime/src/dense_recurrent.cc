// oneDNN 2.6 lstm_forward / gru_forward / lbr_gru_forward /
// vanilla_rnn_forward: describe with weights in format `any`, reorder the
// weights once per compiled shape, execute with a per-run scratchpad.
#include "dense_recurrent.h"

#include <string>
#include <tuple>
#include <unordered_map>

#include "parallel.h"
#include "spruce/error.h"
#include "workspace.h"

namespace spruce {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

namespace {

// ONNX's gate of each of oneDNN's: an LSTM's are i, f, c̃, o in oneDNN and
// i, o, f, c in ONNX; a GRU's (u, r, o = z, r, h) and an RNN's agree.
constexpr size_t kLstmOnnxGate[4] = {0, 2, 3, 1};
constexpr size_t kSameGate[4] = {0, 1, 2, 3};

const size_t* onnx_gates(RecurrentCell cell) {
  return cell == RecurrentCell::kLstm ? kLstmOnnxGate : kSameGate;
}

dnnl::rnn_direction rnn_direction(RecurrentDirection direction) {
  switch (direction) {
    case RecurrentDirection::kForward:
      return dnnl::rnn_direction::unidirectional_left2right;
    case RecurrentDirection::kReverse:
      return dnnl::rnn_direction::unidirectional_right2left;
    case RecurrentDirection::kBidirectional:
      break;
  }
  return dnnl::rnn_direction::bidirectional_concat;
}

dnnl::algorithm rnn_activation(RnnActivation activation) {
  switch (activation) {
    case RnnActivation::kRelu:
      return dnnl::algorithm::eltwise_relu;
    case RnnActivation::kSigmoid:
      return dnnl::algorithm::eltwise_logistic;
    case RnnActivation::kTanh:
      break;
  }
  return dnnl::algorithm::eltwise_tanh;
}

// dst[k][g][h] = src[gate_of[g] · H + h][k]: one direction's [G·H × K] ONNX
// matrix into oneDNN's ldigo block of that direction.
void to_ldigo(const float* src, size_t k_count, size_t gates, size_t hidden,
              const size_t* gate_of, float* dst) {
  for (size_t k = 0; k < k_count; ++k) {
    for (size_t g = 0; g < gates; ++g) {
      const float* row = src + gate_of[g] * hidden * k_count;
      float* out = dst + (k * gates + g) * hidden;
      for (size_t h = 0; h < hidden; ++h) out[h] = row[h * k_count + k];
    }
  }
}

}  // namespace

DenseRecurrent::DenseRecurrent(const dnnl::engine& engine,
                               const RecurrentParams& params, size_t in,
                               const std::vector<DirectionWeights>& weights)
    : engine_(engine),
      params_(params),
      in_(in),
      hidden_(params.hidden_size),
      dirs_(weights.size()),
      gates_(params.gates()),
      bias_gates_(params.cell == RecurrentCell::kGru
                      ? (params.linear_before_reset ? 4 : 3)
                      : params.gates()),
      weights_layer_(dirs_ * in * gates_ * hidden_),
      weights_iter_(dirs_ * hidden_ * gates_ * hidden_),
      bias_(dirs_ * bias_gates_ * hidden_) {
  const size_t* gate_of = onnx_gates(params.cell);
  const bool gru_summed_candidate =
      params.cell == RecurrentCell::kGru && !params.linear_before_reset;
  for (size_t d = 0; d < dirs_; ++d) {
    to_ldigo(weights[d].w, in, gates_, hidden_, gate_of,
             weights_layer_.data() + d * in * gates_ * hidden_);
    to_ldigo(weights[d].r, hidden_, gates_, hidden_, gate_of,
             weights_iter_.data() + d * hidden_ * gates_ * hidden_);
    for (size_t g = 0; g < bias_gates_; ++g) {
      const float* from = weights[d].b + gate_of[g] * hidden_;
      float* to = bias_.data() + (d * bias_gates_ + g) * hidden_;
      for (size_t h = 0; h < hidden_; ++h) {
        // gru_forward has one candidate bias: Wbh + Rbh.
        to[h] = from[h] +
                (gru_summed_candidate && g == 2 ? from[hidden_ + h] : 0.0f);
      }
    }
  }
}

std::shared_ptr<const DenseRecurrent::Compiled> DenseRecurrent::compiled_for(
    size_t seq, size_t batch, bool x_batch_major, bool y_batch_major) const {
  const auto key =
      std::make_pair(Key{seq, batch}, int{x_batch_major} * 2 + y_batch_major);
  return cache_.get(
      key, [&] { return compile(seq, batch, x_batch_major, y_batch_major); });
}

std::shared_ptr<const DenseRecurrent::Compiled> DenseRecurrent::compile(
    size_t seq, size_t batch, bool x_batch_major, bool y_batch_major) const {
  const auto t = static_cast<dnnl::memory::dim>(seq);
  const auto n = static_cast<dnnl::memory::dim>(batch);
  const auto c = static_cast<dnnl::memory::dim>(in_);
  const auto h = static_cast<dnnl::memory::dim>(hidden_);
  const auto d = static_cast<dnnl::memory::dim>(dirs_);
  auto compiled = std::make_shared<Compiled>();
  Compiled& cc = *compiled;
  cc.src_layer = dnnl::memory::desc({t, n, c}, dt::f32,
                                    x_batch_major ? tag::ntc : tag::tnc);
  cc.dst_layer = dnnl::memory::desc({t, n, d * h}, dt::f32,
                                    y_batch_major ? tag::ntc : tag::tnc);
  cc.src_iter = dnnl::memory::desc({1, d, n, h}, dt::f32, tag::ldnc);
  cc.dst_iter = cc.src_iter;
  const auto g = static_cast<dnnl::memory::dim>(gates_);
  const auto bg = static_cast<dnnl::memory::dim>(bias_gates_);
  const dnnl::memory::desc user_wl({1, d, c, g, h}, dt::f32, tag::ldigo);
  const dnnl::memory::desc user_wi({1, d, h, g, h}, dt::f32, tag::ldigo);
  const dnnl::memory::desc bias({1, d, bg, h}, dt::f32, tag::ldgo);
  const dnnl::memory::desc any_wl({1, d, c, g, h}, dt::f32, tag::any);
  const dnnl::memory::desc any_wi({1, d, h, g, h}, dt::f32, tag::any);
  const auto prop = dnnl::prop_kind::forward_inference;
  const dnnl::rnn_direction direction = rnn_direction(params_.direction);
  try {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    // Each primitive_desc has the same accessors; the primitive is kept
    // as its base class.
    auto finish = [&](const auto& pd, auto primitive) {
      cc.primitive = primitive;
      cc.scratchpad = pd.scratchpad_desc();
      return std::make_tuple(pd.weights_layer_desc(), pd.weights_iter_desc(),
                             pd.bias_desc());
    };
    std::tuple<dnnl::memory::desc, dnnl::memory::desc, dnnl::memory::desc>
        wanted;
    switch (params_.cell) {
      case RecurrentCell::kLstm: {
        const dnnl::lstm_forward::primitive_desc pd(
            dnnl::lstm_forward::desc(prop, direction, cc.src_layer, cc.src_iter,
                                     cc.src_iter, any_wl, any_wi, bias,
                                     cc.dst_layer, cc.dst_iter, cc.dst_iter),
            attr, engine_);
        wanted = finish(pd, dnnl::lstm_forward(pd));
        break;
      }
      case RecurrentCell::kGru:
        if (params_.linear_before_reset) {
          const dnnl::lbr_gru_forward::primitive_desc pd(
              dnnl::lbr_gru_forward::desc(prop, direction, cc.src_layer,
                                          cc.src_iter, any_wl, any_wi, bias,
                                          cc.dst_layer, cc.dst_iter),
              attr, engine_);
          wanted = finish(pd, dnnl::lbr_gru_forward(pd));
        } else {
          const dnnl::gru_forward::primitive_desc pd(
              dnnl::gru_forward::desc(prop, direction, cc.src_layer,
                                      cc.src_iter, any_wl, any_wi, bias,
                                      cc.dst_layer, cc.dst_iter),
              attr, engine_);
          wanted = finish(pd, dnnl::gru_forward(pd));
        }
        break;
      case RecurrentCell::kRnn: {
        const dnnl::vanilla_rnn_forward::primitive_desc pd(
            dnnl::vanilla_rnn_forward::desc(
                prop, rnn_activation(params_.activation), direction,
                cc.src_layer, cc.src_iter, any_wl, any_wi, bias, cc.dst_layer,
                cc.dst_iter),
            attr, engine_);
        wanted = finish(pd, dnnl::vanilla_rnn_forward(pd));
        break;
      }
    }
    dnnl::stream stream(engine_);
    // The primitive's own copy of the weights, in the layout it prefers.
    auto reordered = [&](const dnnl::memory::desc& user,
                         const std::vector<float>& data,
                         const dnnl::memory::desc& layout) {
      dnnl::memory from(user, engine_, const_cast<float*>(data.data()));
      dnnl::memory to(layout, engine_);
      dnnl::reorder(from, to).execute(stream, from, to);
      return to;
    };
    cc.weights_layer = reordered(user_wl, weights_layer_, std::get<0>(wanted));
    cc.weights_iter = reordered(user_wi, weights_iter_, std::get<1>(wanted));
    cc.bias = reordered(bias, bias_, std::get<2>(wanted));
    stream.wait();
  } catch (const dnnl::error& e) {
    throw Error("oneDNN " + std::string(cell_name(params_.cell)) + " (input " +
                std::to_string(in_) + ", hidden " + std::to_string(hidden_) +
                ") for seq " + std::to_string(seq) + ", batch " +
                std::to_string(batch) + ": " + e.what());
  }
  return compiled;
}

void DenseRecurrent::run(const float* x, bool x_batch_major, size_t seq,
                         size_t batch, const float* h0, const float* c0,
                         float* y, bool y_batch_major, float* hy,
                         float* cy) const {
  const std::shared_ptr<const Compiled> compiled =
      compiled_for(seq, batch, x_batch_major, y_batch_major);
  const Compiled& c = *compiled;
  // oneDNN takes non-const handles; it only reads sources and weights.
  auto mem = [&](const dnnl::memory::desc& desc, const float* data) {
    return dnnl::memory(desc, engine_, const_cast<float*>(data));
  };
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC_LAYER, mem(c.src_layer, x)},
      {DNNL_ARG_WEIGHTS_LAYER, c.weights_layer},
      {DNNL_ARG_WEIGHTS_ITER, c.weights_iter},
      {DNNL_ARG_BIAS, c.bias},
      {DNNL_ARG_DST_LAYER, mem(c.dst_layer, y)},
      {DNNL_ARG_DST_ITER, mem(c.dst_iter, hy)}};
  const bool lstm = params_.cell == RecurrentCell::kLstm;
  std::vector<float> zeros;
  if (h0 == nullptr || (lstm && c0 == nullptr)) {
    zeros.assign(dirs_ * batch * hidden_, 0.0f);
  }
  args.emplace(DNNL_ARG_SRC_ITER, mem(c.src_iter, h0 ? h0 : zeros.data()));
  if (lstm) {
    args.emplace(DNNL_ARG_SRC_ITER_C, mem(c.src_iter, c0 ? c0 : zeros.data()));
    args.emplace(DNNL_ARG_DST_ITER_C, mem(c.dst_iter, cy));
  }
  execute_primitive(c.primitive, engine_, std::move(args), c.scratchpad);
}

}  // namespace spruce
