// oneDNN 2.6 lstm_forward: describe with weights in format `any`, reorder the
// weights once per compiled shape, execute with a per-run scratchpad.
#include "dense_lstm.h"

#include <string>
#include <unordered_map>

#include "parallel.h"
#include "spruce/error.h"
#include "workspace.h"

namespace spruce {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

namespace {

// oneDNN orders an LSTM's gates i, f, c̃, o; ONNX orders them i, o, f, c.
constexpr size_t kOnnxGateOf[4] = {0, 2, 3, 1};

dnnl::rnn_direction rnn_direction(LstmDirection direction) {
  switch (direction) {
    case LstmDirection::kForward:
      return dnnl::rnn_direction::unidirectional_left2right;
    case LstmDirection::kReverse:
      return dnnl::rnn_direction::unidirectional_right2left;
    case LstmDirection::kBidirectional:
      break;
  }
  return dnnl::rnn_direction::bidirectional_concat;
}

// dst[d][k][g][h] = src_d[onnx_gate(g) · H + h][k]: one direction's [4H × K]
// ONNX matrix into oneDNN's ldigo block of that direction.
void to_ldigo(const float* src, size_t k_count, size_t hidden, float* dst) {
  for (size_t k = 0; k < k_count; ++k) {
    for (size_t g = 0; g < 4; ++g) {
      const float* row = src + kOnnxGateOf[g] * hidden * k_count;
      float* out = dst + (k * 4 + g) * hidden;
      for (size_t h = 0; h < hidden; ++h) out[h] = row[h * k_count + k];
    }
  }
}

}  // namespace

DenseLstm::DenseLstm(const dnnl::engine& engine, size_t in, size_t hidden,
                     LstmDirection direction,
                     const std::vector<DirectionWeights>& weights)
    : engine_(engine),
      in_(in),
      hidden_(hidden),
      dirs_(weights.size()),
      direction_(direction),
      weights_layer_(dirs_ * in * 4 * hidden),
      weights_iter_(dirs_ * hidden * 4 * hidden),
      bias_(dirs_ * 4 * hidden) {
  for (size_t d = 0; d < dirs_; ++d) {
    to_ldigo(weights[d].w, in, hidden,
             weights_layer_.data() + d * in * 4 * hidden);
    to_ldigo(weights[d].r, hidden, hidden,
             weights_iter_.data() + d * hidden * 4 * hidden);
    for (size_t g = 0; g < 4; ++g) {
      for (size_t h = 0; h < hidden; ++h) {
        bias_[(d * 4 + g) * hidden + h] =
            weights[d].b[kOnnxGateOf[g] * hidden + h];
      }
    }
  }
}

std::shared_ptr<const DenseLstm::Compiled> DenseLstm::compiled_for(
    size_t seq, size_t batch, bool x_batch_major, bool y_batch_major) const {
  const auto key =
      std::make_pair(Key{seq, batch}, int{x_batch_major} * 2 + y_batch_major);
  return cache_.get(key, [&] {
    return compile(seq, batch, x_batch_major, y_batch_major);
  });
}

std::shared_ptr<const DenseLstm::Compiled> DenseLstm::compile(
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
  const dnnl::memory::desc user_wl({1, d, c, 4, h}, dt::f32, tag::ldigo);
  const dnnl::memory::desc user_wi({1, d, h, 4, h}, dt::f32, tag::ldigo);
  const dnnl::memory::desc bias({1, d, 4, h}, dt::f32, tag::ldgo);
  const dnnl::memory::desc any_wl({1, d, c, 4, h}, dt::f32, tag::any);
  const dnnl::memory::desc any_wi({1, d, h, 4, h}, dt::f32, tag::any);
  try {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::lstm_forward::desc desc(
        dnnl::prop_kind::forward_inference, rnn_direction(direction_),
        cc.src_layer, cc.src_iter, cc.src_iter, any_wl, any_wi, bias,
        cc.dst_layer, cc.dst_iter, cc.dst_iter);
    const dnnl::lstm_forward::primitive_desc pd(desc, attr, engine_);
    cc.primitive = dnnl::lstm_forward(pd);
    cc.scratchpad = pd.scratchpad_desc();
    dnnl::stream stream(engine_);
    // The primitive's own copy of the weights, in the layout it prefers.
    auto reordered = [&](const dnnl::memory::desc& user,
                         const std::vector<float>& data,
                         const dnnl::memory::desc& wanted) {
      dnnl::memory from(user, engine_, const_cast<float*>(data.data()));
      dnnl::memory to(wanted, engine_);
      dnnl::reorder(from, to).execute(stream, from, to);
      return to;
    };
    cc.weights_layer =
        reordered(user_wl, weights_layer_, pd.weights_layer_desc());
    cc.weights_iter = reordered(user_wi, weights_iter_, pd.weights_iter_desc());
    cc.bias = reordered(bias, bias_, pd.bias_desc());
    stream.wait();
  } catch (const dnnl::error& e) {
    throw Error("oneDNN LSTM (input " + std::to_string(in_) + ", hidden " +
                std::to_string(hidden_) + ") for seq " + std::to_string(seq) +
                ", batch " + std::to_string(batch) + ": " + e.what());
  }
  return compiled;
}

void DenseLstm::run(const float* x, bool x_batch_major, size_t seq,
                    size_t batch, const float* h0, const float* c0, float* y,
                    bool y_batch_major, float* hy, float* cy) const {
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
      {DNNL_ARG_DST_ITER, mem(c.dst_iter, hy)},
      {DNNL_ARG_DST_ITER_C, mem(c.dst_iter, cy)}};
  std::vector<float> zeros;
  if (h0 == nullptr || c0 == nullptr)
    zeros.assign(dirs_ * batch * hidden_, 0.0f);
  args.emplace(DNNL_ARG_SRC_ITER, mem(c.src_iter, h0 ? h0 : zeros.data()));
  args.emplace(DNNL_ARG_SRC_ITER_C, mem(c.src_iter, c0 ? c0 : zeros.data()));
  execute_primitive(c.primitive, engine_, std::move(args), c.scratchpad);
}

}  // namespace spruce
