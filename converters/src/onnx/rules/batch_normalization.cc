// ONNX BatchNormalization.
#include "onnx/importer.h"

namespace spruce::converters {

// BatchNormalization (inference): folded into the Conv before it when this
// is that Conv's only reader, else run as a 1x1 depthwise Conv (scale and
// shift per channel) on NCHW input, or as a Mul and an Add per channel on
// input of another rank ([N, C], [N, C, L], [N, C, D, H, W]).
void Importer::import_batch_normalization(const onnx::NodeProto& node) {
  if (node.input_size() != 5) fail(node, "needs 5 inputs");
  if (node.output_size() > 1) {
    fail(node, "training outputs (running mean/var) are not supported");
  }
  if (attr_int(node, "training_mode", 0) != 0) {
    fail(node, "training_mode=1 is not supported");
  }
  const float epsilon = attr_float(node, "epsilon", 1e-5f);
  const Constant* c[4];
  for (int k = 0; k < 4; ++k) c[k] = &constant(node, node.input(k + 1));
  const size_t channels = c[0]->f.size();
  for (const Constant* t : c) {
    if (!t->is_float || t->f.size() != channels) {
      fail(node, "scale, B, mean and var must be float vectors of one size");
    }
  }
  std::vector<float> scale(channels), shift(channels);
  for (size_t k = 0; k < channels; ++k) {
    const double s =
        c[0]->f[k] / std::sqrt(static_cast<double>(c[3]->f[k]) + epsilon);
    scale[k] = static_cast<float>(s);
    shift[k] = static_cast<float>(c[1]->f[k] - c[2]->f[k] * s);
  }
  NodeDef* conv = fusable_producer(node.input(0), {OpKind::kConv});
  if (conv != nullptr && conv->inputs.size() == 1 &&
      activation_of(conv->attrs) == kernels::Activation::kNone &&
      static_cast<size_t>(model_.weights[conv->weights[0]].shape[0]) ==
          channels) {
    WeightDef& w = model_.weights[conv->weights[0]];
    const auto per_out = static_cast<size_t>(w.shape[1]);
    for (size_t o = 0; o < channels; ++o) {
      for (size_t k = 0; k < per_out; ++k) w.dense[o * per_out + k] *= scale[o];
    }
    if (conv->weights.size() == 1) {
      WeightDef b;
      b.name = w.name + ".bias";
      b.shape = {static_cast<int64_t>(channels)};
      b.dense.assign(channels, 0.0f);
      model_.weights.push_back(std::move(b));
      conv->weights.push_back(static_cast<uint32_t>(model_.weights.size() - 1));
    }
    std::vector<float>& b = model_.weights[conv->weights[1]].dense;
    for (size_t o = 0; o < channels; ++o) b[o] = b[o] * scale[o] + shift[o];
    report_->folded.push_back("folded BatchNormalization '" + node.name() +
                              "' into '" + conv->name + "'");
    take_over_output(conv, node.output(0));
    return;
  }
  const uint32_t x = value_of(node, node.input(0));
  const Shape xs = model_.values[x].shape;
  if (xs.size() < 2 || (xs[1] >= 0 && static_cast<size_t>(xs[1]) != channels)) {
    fail(node, "input " + to_string(xs) + " does not have " +
                   std::to_string(channels) + " channels in dimension 1");
  }
  if (xs.size() != 4) {
    // [N, C, ...] of another rank: x · scale + shift, each [C, 1, ...].
    Shape per_channel(xs.size() - 1, 1);
    per_channel[0] = static_cast<int64_t>(channels);
    auto step = [&](const std::string& suffix, BinaryOp op, uint32_t in,
                    std::vector<float> factor, bool last) {
      const std::string factor_name = node.output(0) + "/" + suffix;
      constants_[factor_name] =
          Constant{per_channel, true, std::move(factor), {}};
      NodeDef n;
      n.name = last ? node.name() : factor_name + "_applied";
      n.op = OpKind::kBinary;
      n.attrs.set_int("op", static_cast<int64_t>(op));
      n.inputs = {in, operand(node, factor_name)};
      n.outputs = {
          add_value(last ? node.output(0) : factor_name + "_applied", xs)};
      model_.nodes.push_back(std::move(n));
      return model_.nodes.back().outputs[0];
    };
    const uint32_t scaled =
        step("scale", BinaryOp::kMul, x, std::move(scale), false);
    step("shift", BinaryOp::kAdd, scaled, std::move(shift), true);
    return;
  }
  SpatialParams p;
  p.group = static_cast<uint32_t>(channels);
  const auto ch = static_cast<int64_t>(channels);
  add_conv(node, x, p, {ch, 1, 1, 1}, scale, shift, node.name() + ".scale");
  report_->folded.push_back("BatchNormalization '" + node.name() +
                            "' runs as a per-channel 1x1 Conv");
}

SPRUCE_ONNX_RULE(batch_normalization, {"BatchNormalization"}, ImportRule::kNone,
                 /*weight_inputs=*/{1, 2, 3, 4});

}  // namespace spruce::converters
