// Typed views of the attributes several ops share (ops/*.cc) and the
// converter writes: the fused activation, an LSTM's layout parameters and a
// window op's SpatialParams. Each reader checks what it reads and throws
// spruce::Error naming the attribute.
#ifndef SPRUCE_RUNTIME_OP_PARAMS_H_
#define SPRUCE_RUNTIME_OP_PARAMS_H_

#include "attributes.h"
#include "ops/op_kind.h"
#include "spruce/kernels/spmm.h"
#include "spruce/kernels/window.h"
#include "spruce/recurrent_params.h"
#include "spruce/spatial_params.h"
#include "spruce/tensor.h"

namespace spruce {

// "activation": the fused activation, as its file code (None 0, Relu 1,
// Gelu 2, Relu6 5; the kernels' enum is free to change).
kernels::Activation activation_of(const Attributes& attrs);
void set_activation(Attributes* attrs, kernels::Activation activation);

// A recurrent op's (kLstm, kGru, kRnn) "hidden_size", "direction",
// "input_batch_major", "output_batch_major", "merged_output",
// "state_batch_major", "state_offset", and GRU's "linear_before_reset" or
// RNN's "activation" (see RecurrentParams); its cell from `op`.
RecurrentParams recurrent_params_of(OpKind op, const Attributes& attrs);
void set_recurrent_params(Attributes* attrs, const RecurrentParams& params);

// "kernel" [kh, kw], "strides" [2], "pads" [top, left, bottom, right],
// "dilations" [2], "group", "ceil_mode", "count_include_pad".
SpatialParams spatial_params_of(const Attributes& attrs);
void set_spatial_params(Attributes* attrs, const SpatialParams& params);

// The 2-D window p slides over an NCHW input of shape x: C = x[1], and the
// input and output sizes when x is [N, C, H, W] (else left 0).
kernels::WindowShape window_of(const SpatialParams& p, const Shape& x);

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_OP_PARAMS_H_
