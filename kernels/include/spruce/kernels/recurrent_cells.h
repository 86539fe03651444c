// The cell updates of LSTM, GRU and RNN layers: one pass over a step's gate
// pre-activations that applies the gate non-linearities and advances the
// state.
//
// The matrix products of a recurrent layer (input projection for all steps,
// recurrent product per step) are spmm_csr / spmm_bsr / oneDNN matmul; this
// is the element-wise rest, fused so the gates are read once and never
// written.
//
// Gates are blocks of `count` floats (count = hidden × batch in whatever
// element order the caller uses; every update is element-wise), so
// gates_x[g * count + e] is gate g of element e. σ and tanh are within a few
// float ulps (relative error ≤ 1e-6 of the double result where it is a
// normal float); σ saturates to 0 or 1 instead of overflowing. Each
// function's *_reference twin computes the same in double precision, rounded
// once to float: what the kernel is tested against.
#ifndef SPRUCE_KERNELS_RECURRENT_CELLS_H_
#define SPRUCE_KERNELS_RECURRENT_CELLS_H_

#include <cstddef>
#include <cstdint>

namespace spruce::kernels {

// LSTM: gates in ONNX's order i, o, f, c (input, output, forget, cell). For
// every element e < count:
//   z_g = gates_x[g][e] + gates_h[g][e]     (gates_h null: z_g = gates_x[g][e])
//   i = σ(z_i), o = σ(z_o), f = σ(z_f), g = tanh(z_c)
//   c[e] = f · c_prev[e] + i · g            (c_prev null: c_prev = 0)
//   h[e] = o · tanh(c[e])
// c may alias c_prev.
void lstm_cell(const float* gates_x, const float* gates_h, size_t count,
               const float* c_prev, float* c, float* h);
void lstm_cell_reference(const float* gates_x, const float* gates_h,
                         size_t count, const float* c_prev, float* c, float* h);

// GRU: gates in ONNX's order z, r, h (update, reset, candidate); gates_h
// holds the recurrent products, gates_h[h] = Rh · h_prev + Rbh when
// `linear_before_reset`, else Rh · (r ⊙ h_prev) + Rbh (see
// gru_reset_hidden). For every element e < count:
//   z = σ(gates_x[z][e] + gates_h[z][e]), r = σ(gates_x[r][e] + gates_h[r][e])
//   n = tanh(gates_x[h][e] + r · gates_h[h][e])   (linear_before_reset)
//     = tanh(gates_x[h][e] + gates_h[h][e])       (otherwise)
//   h[e] = (1 − z) · n + z · h_prev[e]
// h may alias h_prev.
void gru_cell(const float* gates_x, const float* gates_h, size_t count,
              const float* h_prev, bool linear_before_reset, float* h);
void gru_cell_reference(const float* gates_x, const float* gates_h,
                        size_t count, const float* h_prev,
                        bool linear_before_reset, float* h);

// reset_h[e] = σ(gates_x[r][e] + gates_h[r][e]) · h_prev[e]: what a GRU
// without linear_before_reset multiplies by Rh. Only the z and r blocks of
// gates_h are read.
void gru_reset_hidden(const float* gates_x, const float* gates_h, size_t count,
                      const float* h_prev, float* reset_h);
void gru_reset_hidden_reference(const float* gates_x, const float* gates_h,
                                size_t count, const float* h_prev,
                                float* reset_h);

// A simple RNN's activation f.
enum class CellActivation : uint8_t { kTanh, kRelu, kSigmoid };

// RNN: one gate. h[e] = f(gates_x[e] + gates_h[e]) (gates_h null:
// f(gates_x[e])).
void rnn_cell(const float* gates_x, const float* gates_h, size_t count,
              CellActivation f, float* h);
void rnn_cell_reference(const float* gates_x, const float* gates_h,
                        size_t count, CellActivation f, float* h);

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_RECURRENT_CELLS_H_
