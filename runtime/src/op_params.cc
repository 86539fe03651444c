#include "op_params.h"

#include "spruce/error.h"

namespace spruce {
namespace {

struct ActivationCode {
  kernels::Activation activation;
  int64_t code;
};
// The file's codes: never renumber one.
constexpr ActivationCode kActivationCodes[] = {
    {kernels::Activation::kNone, 0},
    {kernels::Activation::kRelu, 1},
    {kernels::Activation::kGelu, 2},
    {kernels::Activation::kSigmoid, 3},
    {kernels::Activation::kTanh, 4},
    {kernels::Activation::kRelu6, 5},
    {kernels::Activation::kSilu, 6},
    {kernels::Activation::kHardSwish, 7},
    {kernels::Activation::kHardSigmoid, 8},
};

}  // namespace

kernels::Activation activation_of(const Attributes& attrs) {
  const int64_t code = attrs.get_int("activation", 0);
  for (const ActivationCode& a : kActivationCodes) {
    if (a.code == code) return a.activation;
  }
  throw Error("unknown activation " + std::to_string(code));
}

void set_activation(Attributes* attrs, kernels::Activation activation) {
  for (const ActivationCode& a : kActivationCodes) {
    if (a.activation == activation) {
      if (a.code == 0) {
        attrs->erase("activation");  // the default
      } else {
        attrs->set_int("activation", a.code);
      }
      return;
    }
  }
  throw Error("internal: activation " +
              std::to_string(static_cast<int>(activation)) +
              " cannot be stored");
}

RecurrentParams recurrent_params_of(OpKind op, const Attributes& attrs) {
  RecurrentParams p;
  switch (op) {
    case OpKind::kLstm:
      p.cell = RecurrentCell::kLstm;
      break;
    case OpKind::kGru:
      p.cell = RecurrentCell::kGru;
      p.linear_before_reset = attrs.get_bool("linear_before_reset");
      break;
    case OpKind::kRnn:
      p.cell = RecurrentCell::kRnn;
      p.activation =
          static_cast<RnnActivation>(attrs.get_int_in("activation", 0, 0, 2));
      break;
    default:
      throw Error("internal: op " + std::string(op_name(op)) +
                  " has no recurrent parameters");
  }
  p.hidden_size =
      static_cast<uint32_t>(attrs.get_int_in("hidden_size", 0, 1, 1 << 24));
  p.direction =
      static_cast<RecurrentDirection>(attrs.get_int_in("direction", 0, 0, 2));
  p.input_batch_major = attrs.get_bool("input_batch_major");
  p.output_batch_major = attrs.get_bool("output_batch_major");
  p.merged_output = attrs.get_bool("merged_output");
  p.state_batch_major = attrs.get_bool("state_batch_major");
  p.state_offset = static_cast<uint32_t>(attrs.get_int_in(
      "state_offset", 0, 0, p.state_batch_major ? 0 : 1 << 20));
  return p;
}

void set_recurrent_params(Attributes* attrs, const RecurrentParams& p) {
  attrs->set_int("hidden_size", p.hidden_size);
  attrs->set_int("direction", static_cast<int64_t>(p.direction));
  attrs->set_int("input_batch_major", p.input_batch_major);
  attrs->set_int("output_batch_major", p.output_batch_major);
  attrs->set_int("merged_output", p.merged_output);
  attrs->set_int("state_batch_major", p.state_batch_major);
  attrs->set_int("state_offset", p.state_offset);
  if (p.cell == RecurrentCell::kGru) {
    attrs->set_int("linear_before_reset", p.linear_before_reset);
  } else if (p.cell == RecurrentCell::kRnn) {
    attrs->set_int("activation", static_cast<int64_t>(p.activation));
  }
}

// Windows up to 2^12 wide, strides and dilations up to 2^12, pads up to
// 2^16: far beyond any real model, small enough that no size computed from
// them overflows.
kernels::WindowShape window_of(const SpatialParams& p, const Shape& x) {
  kernels::WindowShape s;
  if (x.size() >= 2) s.channels = static_cast<size_t>(x[1]);
  s.kernel_h = p.kernel[0];
  s.kernel_w = p.kernel[1];
  s.stride_h = p.strides[0];
  s.stride_w = p.strides[1];
  s.dilation_h = p.dilations[0];
  s.dilation_w = p.dilations[1];
  s.pad_top = p.pads[0];
  s.pad_left = p.pads[1];
  if (x.size() == 4) {
    s.height = static_cast<size_t>(x[2]);
    s.width = static_cast<size_t>(x[3]);
    s.out_height = static_cast<size_t>(p.output_size(0, x[2]));
    s.out_width = static_cast<size_t>(p.output_size(1, x[3]));
  }
  return s;
}

SpatialParams spatial_params_of(const Attributes& attrs) {
  SpatialParams p;
  const auto read = [&](const char* name, size_t count, int64_t min,
                        int64_t max, uint32_t* out) {
    const std::vector<int64_t>& v = attrs.get_ints(name);
    if (v.size() != count) {
      throw Error("attribute '" + std::string(name) + "' needs " +
                  std::to_string(count) + " values, has " +
                  std::to_string(v.size()));
    }
    for (size_t k = 0; k < count; ++k) {
      if (v[k] < min || v[k] > max) {
        throw Error("attribute '" + std::string(name) + "' has " +
                    std::to_string(v[k]) + " (allowed " + std::to_string(min) +
                    " to " + std::to_string(max) + ")");
      }
      out[k] = static_cast<uint32_t>(v[k]);
    }
  };
  const size_t rank = attrs.get_ints("kernel").size();
  if (rank != 2 && rank != 3) {
    throw Error("attribute 'kernel' needs 2 or 3 values, has " +
                std::to_string(rank));
  }
  p.rank = static_cast<uint32_t>(rank);
  read("kernel", rank, 1, 1 << 12, p.kernel);
  read("strides", rank, 1, 1 << 12, p.strides);
  read("pads", 2 * rank, 0, 1 << 16, p.pads);
  read("dilations", rank, 1, 1 << 12, p.dilations);
  p.group = static_cast<uint32_t>(attrs.get_int_in("group", 1, 1, 1 << 20));
  p.ceil_mode = attrs.get_bool("ceil_mode");
  p.count_include_pad = attrs.get_bool("count_include_pad");
  return p;
}

void set_spatial_params(Attributes* attrs, const SpatialParams& p) {
  const auto ints = [](const uint32_t* v, size_t count) {
    return std::vector<int64_t>(v, v + count);
  };
  attrs->set_ints("kernel", ints(p.kernel, p.rank));
  attrs->set_ints("strides", ints(p.strides, p.rank));
  attrs->set_ints("pads", ints(p.pads, 2 * p.rank));
  attrs->set_ints("dilations", ints(p.dilations, p.rank));
  attrs->set_int("group", p.group);
  attrs->set_int("ceil_mode", p.ceil_mode);
  attrs->set_int("count_include_pad", p.count_include_pad);
}

}  // namespace spruce
