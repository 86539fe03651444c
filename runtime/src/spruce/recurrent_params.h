// How a recurrent layer (LSTM, GRU or RNN) lays out its tensors: ONNX's op
// plus the layout changes PyTorch exports wrap around it (batch_first
// transposes, the direction merge of bidirectional outputs, per-layer slices
// of the initial states), which the converter folds into the layer instead
// of running them; and the cell's own options.
//
// Weights per direction, as the converter writes them (ONNX's gate order):
//   LSTM: W [4H, in], R [4H, H], B [4H]        (B = ONNX's Wb + Rb; gates
//                                               i, o, f, c)
//   GRU:  W [3H, in], Rzr [2H, H], Rh [H, H], B [4H]
//         (gates z, r, h; R split so the candidate's product can read r ⊙ h;
//          B = [Wbz + Rbz, Wbr + Rbr, Wbh, Rbh]: Rbh stays apart because
//          linear_before_reset multiplies it by r)
//   RNN:  W [H, in], R [H, H], B [H]           (B = Wb + Rb)
#ifndef SPRUCE_RECURRENT_PARAMS_H_
#define SPRUCE_RECURRENT_PARAMS_H_

#include <cstddef>
#include <cstdint>

namespace spruce {

enum class RecurrentDirection : uint8_t {
  kForward = 0,
  kReverse = 1,
  kBidirectional = 2
};

enum class RecurrentCell : uint8_t { kLstm, kGru, kRnn };

// An RNN cell's activation f in h = f(W x + R h + b); also its file code.
enum class RnnActivation : uint8_t { kTanh = 0, kRelu = 1, kSigmoid = 2 };

struct RecurrentParams {
  RecurrentCell cell = RecurrentCell::kLstm;
  uint32_t hidden_size = 0;
  RecurrentDirection direction = RecurrentDirection::kForward;
  // X is [batch, seq, input] instead of [seq, batch, input].
  bool input_batch_major = false;
  // Y is [batch, seq, ...] instead of [seq, ...].
  bool output_batch_major = false;
  // Y is [seq, batch, dirs × H] (directions side by side, PyTorch's layout)
  // instead of ONNX's [seq, dirs, batch, H] ([batch, seq, dirs, H] when
  // output_batch_major).
  bool merged_output = false;
  // Initial and final states are [batch, dirs, H] instead of [dirs, batch, H].
  bool state_batch_major = false;
  // Direction d starts from row state_offset + d of the initial states,
  // which may hold more rows than dirs (PyTorch passes all layers' states in
  // one tensor). 0 with state_batch_major.
  uint32_t state_offset = 0;
  // GRU: the candidate is tanh(Wh x + r ⊙ (Rh h + Rbh) + Wbh) (PyTorch's,
  // oneDNN's lbr_gru) instead of tanh(Wh x + Rh (r ⊙ h) + Rbh + Wbh).
  bool linear_before_reset = false;
  RnnActivation activation = RnnActivation::kTanh;  // RNN only

  uint32_t directions() const {
    return direction == RecurrentDirection::kBidirectional ? 2 : 1;
  }
  // Gate blocks of H rows in W: 4, 3 or 1.
  size_t gates() const {
    return cell == RecurrentCell::kLstm  ? 4
           : cell == RecurrentCell::kGru ? 3
                                         : 1;
  }
  // Weights per direction (see above) and the bias's index among them.
  size_t weights_per_direction() const {
    return cell == RecurrentCell::kGru ? 4 : 3;
  }
  size_t bias_index() const { return weights_per_direction() - 1; }
  // Rows of H in B: 4 for LSTM and GRU, 1 for RNN.
  size_t bias_gates() const { return cell == RecurrentCell::kRnn ? 1 : 4; }
  // State tensors: h and c for an LSTM, h otherwise (outputs Y_h[, Y_c] and
  // inputs initial_h[, initial_c]).
  size_t states() const { return cell == RecurrentCell::kLstm ? 2 : 1; }
};

inline const char* cell_name(RecurrentCell cell) {
  return cell == RecurrentCell::kLstm  ? "LSTM"
         : cell == RecurrentCell::kGru ? "GRU"
                                       : "RNN";
}

// An absent optional input or output of a node (an LSTM without initial
// state, or whose Y is not used).
inline constexpr uint32_t kNoValue = 0xFFFFFFFFu;

}  // namespace spruce

#endif  // SPRUCE_RECURRENT_PARAMS_H_
