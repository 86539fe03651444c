// How an LSTM layer lays out its tensors: ONNX's LSTM op plus the layout
// changes PyTorch exports wrap around it (batch_first transposes, the
// direction merge of bidirectional outputs, per-layer slices of h0/c0),
// which the converter folds into the layer instead of running them.
#ifndef SPRUCE_LSTM_PARAMS_H_
#define SPRUCE_LSTM_PARAMS_H_

#include <cstdint>

namespace spruce {

enum class LstmDirection : uint8_t { kForward = 0, kReverse = 1, kBidirectional = 2 };

struct LstmParams {
  uint32_t hidden_size = 0;
  LstmDirection direction = LstmDirection::kForward;
  // X is [batch, seq, input] instead of [seq, batch, input].
  bool input_batch_major = false;
  // Y is [batch, seq, ...] instead of [seq, ...].
  bool output_batch_major = false;
  // Y is [seq, batch, dirs × H] (directions side by side, PyTorch's layout)
  // instead of ONNX's [seq, dirs, batch, H] ([batch, seq, dirs, H] when
  // output_batch_major).
  bool merged_output = false;
  // initial_h/c and Y_h/c are [batch, dirs, H] instead of [dirs, batch, H].
  bool state_batch_major = false;
  // Direction d starts from row state_offset + d of initial_h/c, which may
  // hold more rows than dirs (PyTorch passes all layers' states in one
  // tensor). 0 with state_batch_major.
  uint32_t state_offset = 0;

  uint32_t directions() const {
    return direction == LstmDirection::kBidirectional ? 2 : 1;
  }
};

// An absent optional input or output of a node (an LSTM without initial
// state, or whose Y is not used).
inline constexpr uint32_t kNoValue = 0xFFFFFFFFu;

}  // namespace spruce

#endif  // SPRUCE_LSTM_PARAMS_H_
