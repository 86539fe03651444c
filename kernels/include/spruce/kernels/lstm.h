// The LSTM cell update: one pass over a step's gate pre-activations that
// applies the gate non-linearities and advances the cell and hidden state.
//
// The matrix products of an LSTM (input projection for all steps, recurrent
// product per step) are spmm_csr / spmm_bsr / oneDNN matmul; this is the
// element-wise rest, fused so the gates are read once and never written.
#ifndef SPRUCE_KERNELS_LSTM_H_
#define SPRUCE_KERNELS_LSTM_H_

#include <cstddef>

namespace spruce::kernels {

// Gates are in ONNX's order i, o, f, c (input, output, forget, cell), each a
// block of `count` floats (count = hidden × batch in whatever element order
// the caller uses; the update is element-wise), so gates_x[g * count + e] is
// gate g of element e. For every element e < count:
//   z_g = gates_x[g][e] + gates_h[g][e]     (gates_h null: z_g = gates_x[g][e])
//   i = σ(z_i), o = σ(z_o), f = σ(z_f), g = tanh(z_c)
//   c[e] = f · c_prev[e] + i · g            (c_prev null: c_prev = 0)
//   h[e] = o · tanh(c[e])
// c may alias c_prev. σ and tanh are within a few float ulps (relative error
// ≤ 1e-6 of the double result where it is a normal float); σ saturates to 0
// or 1 instead of overflowing.
void lstm_cell(const float* gates_x, const float* gates_h, size_t count,
               const float* c_prev, float* c, float* h);

// The same in double precision, rounded once to float: the reference the
// kernel is tested against.
void lstm_cell_reference(const float* gates_x, const float* gates_h,
                         size_t count, const float* c_prev, float* c,
                         float* h);

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_LSTM_H_
