// The op enum, generated from op_list.inc: one value per op, equal to its
// code in the .spruce file. Shared by the runtime and the converters.
#ifndef SPRUCE_RUNTIME_OPS_OP_KIND_H_
#define SPRUCE_RUNTIME_OPS_OP_KIND_H_

#include <cstdint>
#include <optional>

namespace spruce {

enum class OpKind : uint16_t {
#define SPRUCE_OP(name, code, display) k##name = code,
#include "ops/op_list.inc"
#undef SPRUCE_OP
};

// The op's display name ("LSTM", "Conv").
const char* op_name(OpKind op);

// The op stored as `code` in a .spruce file; none for a code this build does
// not know (a file from a newer spruce).
std::optional<OpKind> op_from_code(uint16_t code);

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_OPS_OP_KIND_H_
