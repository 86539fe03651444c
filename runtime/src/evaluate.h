// One node run on known inputs by the runtime's own op, as a run would but
// row-major and on one thread: what the converter folds constants with, so
// there is no second evaluator of any op.
#ifndef SPRUCE_RUNTIME_EVALUATE_H_
#define SPRUCE_RUNTIME_EVALUATE_H_

#include <vector>

#include "graph.h"
#include "spruce/tensor.h"

namespace spruce {

// Outputs of `node` (one per output, empty where absent) for `inputs` (one
// per node input, row-major; absent ones ignored). `graph` holds the node's
// values (their shapes) and weights (dense). Throws spruce::Error naming the
// node when the op refuses them.
std::vector<Tensor> evaluate_node(const Graph& graph, const NodeDesc& node,
                                  const std::vector<Tensor>& inputs);

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_EVALUATE_H_
