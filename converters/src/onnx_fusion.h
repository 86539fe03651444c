// Graph rewrites made before import: the decomposed forms PyTorch 1.13
// exports for LayerNorm and erf-GELU are fused back into one node each, so
// the importer sees LayerNormalization and Gelu.
#ifndef SPRUCE_CONVERTERS_ONNX_FUSION_H_
#define SPRUCE_CONVERTERS_ONNX_FUSION_H_

#include <onnx/onnx_pb.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "onnx_util.h"

namespace spruce::converters {

// `graph`'s nodes with the patterns replaced (order kept: a fused node takes
// the place of the pattern's last node). `constants` are the initializers
// and Constant outputs known so far (the pattern's epsilon, 0.5, √2, gamma,
// beta); created constants (a unit scale) are added to it. One note per
// fusion is appended to `notes`.
std::vector<onnx::NodeProto> fuse_patterns(
    const onnx::GraphProto& graph,
    std::unordered_map<std::string, Constant>* constants,
    std::vector<std::string>* notes);

}  // namespace spruce::converters

#endif  // SPRUCE_CONVERTERS_ONNX_FUSION_H_
