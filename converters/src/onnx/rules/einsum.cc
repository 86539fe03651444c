// ONNX Einsum of one or two operands, lowered to the ops it is made of so
// that each runs on its own kernel (a constant operand of a product becomes
// a Linear, sparse if pruned): ReduceSum over the indices only one operand
// has, Transposes that put each operand's indices in the order [batch,
// free, contracted] / [batch, contracted, free], Reshapes that merge
// several free or contracted indices into one, a MatMul, and a Reshape and
// Transpose to the output's order. Implicit outputs ("ij,jk") and ellipses
// are read as ONNX defines them; an index repeated within one operand (a
// diagonal) is refused by name.
#include <map>
#include <optional>

#include "onnx/importer.h"

namespace spruce::converters {
namespace {

// One operand's indices, as characters; an ellipsis's dimensions become
// characters of their own above ASCII, the same for every operand, counted
// from the right so that they line up as broadcasting does. Characters 1-3
// stand for merged groups of indices.
using Labels = std::string;
constexpr size_t kMaxEllipsisRank = 64;
char ellipsis_label(size_t d) { return static_cast<char>(0x80 + d); }

std::string strip_spaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c != ' ') out.push_back(c);
  }
  return out;
}

}  // namespace

void Importer::import_einsum(const onnx::NodeProto& node) {
  if (node.input_size() < 1 || node.input_size() > 2) {
    fail(node, "Einsum of " + std::to_string(node.input_size()) +
                   " operands is not supported (one or two)");
  }
  const onnx::AttributeProto* eq = attr(node, "equation");
  if (eq == nullptr) fail(node, "has no equation");
  const std::string text = strip_spaces(eq->s());
  const size_t arrow = text.find("->");
  std::vector<std::string> terms;
  {
    const std::string lhs = text.substr(0, arrow);
    size_t start = 0;
    for (size_t comma = lhs.find(','); comma != std::string::npos;
         comma = lhs.find(',', start)) {
      terms.push_back(lhs.substr(start, comma - start));
      start = comma + 1;
    }
    terms.push_back(lhs.substr(start));
  }
  if (terms.size() != static_cast<size_t>(node.input_size())) {
    fail(node, "equation '" + eq->s() + "' has " +
                   std::to_string(terms.size()) + " operands, the node " +
                   std::to_string(node.input_size()));
  }
  // Shapes by name: a constant operand stays one (a product with it
  // becomes a Linear).
  std::vector<Shape> shapes;
  for (const std::string& in : node.input()) {
    const std::optional<Shape> shape = shape_of(in);
    if (!shape) fail(node, "input '" + in + "' is not known");
    shapes.push_back(*shape);
  }

  // Each term's labels, ellipses expanded against its operand's rank.
  size_t ellipsis_rank = 0;
  std::vector<Labels> labels(terms.size());
  for (size_t t = 0; t < terms.size(); ++t) {
    const size_t rank = shapes[t].size();
    const size_t dots = terms[t].find("...");
    const size_t letters =
        terms[t].size() - (dots == std::string::npos ? 0 : 3);
    if (letters > rank || (dots == std::string::npos && letters != rank)) {
      fail(node, "term '" + terms[t] + "' does not match operand " +
                     std::to_string(t) + " of shape " + to_string(shapes[t]));
    }
    for (size_t k = 0; k < terms[t].size(); ++k) {
      if (k == dots) {
        const size_t n = rank - letters;
        if (n > kMaxEllipsisRank)
          fail(node, "'...' stands for too many dimensions");
        ellipsis_rank = std::max(ellipsis_rank, n);
        for (size_t d = n; d > 0; --d) labels[t].push_back(ellipsis_label(d));
        k += 2;
        continue;
      }
      const char c = terms[t][k];
      if (!std::isalpha(static_cast<unsigned char>(c))) {
        fail(node, "equation '" + eq->s() + "': '" + std::string(1, c) +
                       "' is not an index letter");
      }
      if (labels[t].find(c) != std::string::npos) {
        fail(node, "index '" + std::string(1, c) + "' repeats in term '" +
                       terms[t] + "' (a diagonal), which is not supported");
      }
      labels[t].push_back(c);
    }
  }
  Labels ellipsis;
  for (size_t d = ellipsis_rank; d > 0; --d) {
    ellipsis.push_back(ellipsis_label(d));
  }
  Labels output;
  if (arrow != std::string::npos) {
    const std::string rhs = text.substr(arrow + 2);
    const size_t dots = rhs.find("...");
    for (size_t k = 0; k < rhs.size(); ++k) {
      if (k == dots) {
        output += ellipsis;
        k += 2;
        continue;
      }
      const char c = rhs[k];
      const bool known = std::any_of(
          labels.begin(), labels.end(),
          [&](const Labels& l) { return l.find(c) != std::string::npos; });
      if (!known || output.find(c) != std::string::npos) {
        fail(node, "output index '" + std::string(1, c) +
                       "' is not an input index, or repeats");
      }
      output.push_back(c);
    }
  } else {  // implicit: the ellipsis, then indices seen once, in order
    output = ellipsis;
    Labels once;
    for (char c = 'A'; c <= 'z'; ++c) {
      int seen = 0;
      for (const Labels& l : labels) seen += l.find(c) != std::string::npos;
      if (seen == 1) once.push_back(c);
    }
    output += once;
  }

  // Each index's size where known (-1 where only a run knows it).
  std::map<char, int64_t> size_of;
  for (size_t t = 0; t < labels.size(); ++t) {
    const Shape& shape = shapes[t];
    for (size_t d = 0; d < labels[t].size(); ++d) {
      const int64_t n = shape[d] < 0 ? -1 : shape[d];
      auto [at, added] = size_of.emplace(labels[t][d], n);
      if (!added && at->second == 1) at->second = n;  // broadcast
    }
  }

  // The lowered nodes go through their own import rules; each step's
  // output is read once, by the next, and the last writes the node's.
  std::optional<onnx::NodeProto> pending;
  int step = 0;
  auto flush = [&] {
    if (pending) import_node(*pending, 0);
    pending.reset();
  };
  auto fresh = [&](const std::string& what) {
    return node.output(0) + "/einsum_" + what + std::to_string(step);
  };
  std::vector<std::string> names(node.input().begin(), node.input().end());
  // A step reading names[t] (and `extra` inputs), its output the new
  // names[t].
  auto emit = [&](const std::string& op, size_t t,
                  const std::vector<std::string>& extra) -> onnx::NodeProto& {
    flush();
    pending.emplace();
    onnx::NodeProto& n = *pending;
    n.set_op_type(op);
    n.set_name(node.name() + "/" + op + "_" + std::to_string(step++));
    std::vector<std::string> inputs{names[t]};
    inputs.insert(inputs.end(), extra.begin(), extra.end());
    for (const std::string& in : inputs) {
      n.add_input(in);
      const bool node_input =
          std::find(node.input().begin(), node.input().end(), in) !=
          node.input().end();
      if (!node_input) ++readers_[in];  // the Einsum's were counted
    }
    names[t] = fresh(op);
    n.add_output(names[t]);
    return n;
  };
  auto ints_attr = [](onnx::NodeProto* n, const std::string& name,
                      const std::vector<int64_t>& v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t i : v) a->add_ints(i);
  };
  auto int64_constant = [&](const std::vector<int64_t>& v) {
    const std::string name = fresh("ints");
    Constant c;
    c.is_float = false;
    c.dtype = DataType::kInt64;
    c.i = v;
    c.shape = {static_cast<int64_t>(v.size())};
    constants_[name] = std::move(c);
    return name;
  };
  auto has = [](const Labels& l, char c) {
    return l.find(c) != std::string::npos;
  };
  // Permutes operand t's dimensions to `order`.
  auto transpose_to = [&](size_t t, const Labels& order) {
    if (order == labels[t]) return;
    std::vector<int64_t> perm;
    for (char c : order) {
      perm.push_back(static_cast<int64_t>(labels[t].find(c)));
    }
    ints_attr(&emit("Transpose", t, {}), "perm", perm);
    labels[t] = order;
  };
  // Reshapes operand t to its `batch` dimensions (copied) then one
  // dimension per group of indices (their sizes' product); a group's own
  // dimension is copied when it sits where it did, and one unknown size
  // may be inferred.
  auto reshape_to = [&](size_t t, const Labels& batch,
                        const std::vector<Labels>& groups, Labels result) {
    std::vector<int64_t> dims(batch.size(), 0);
    bool inferred = false;
    for (const Labels& g : groups) {
      int64_t size = 1;
      for (char c : g) {
        size = size_of.at(c) < 0 ? -1 : known_product(node, size, size_of[c]);
        if (size < 0) break;
      }
      const size_t at = dims.size();
      if (size < 0 && g.size() == 1 && at < labels[t].size() &&
          labels[t][at] == g[0]) {
        size = 0;
      } else if (size < 0) {
        if (inferred) {
          fail(node, "indices '" + g +
                         "' have sizes known only at run time and must be "
                         "merged or split, which is not supported");
        }
        inferred = true;
      }
      dims.push_back(size);
    }
    emit("Reshape", t, {int64_constant(dims)});
    labels[t] = std::move(result);
  };

  // Indices only one operand has and the output lacks: summed first.
  for (size_t t = 0; t < labels.size(); ++t) {
    std::vector<int64_t> axes;
    Labels kept;
    for (size_t d = 0; d < labels[t].size(); ++d) {
      const char c = labels[t][d];
      if (has(output, c) || (labels.size() == 2 && has(labels[1 - t], c))) {
        kept.push_back(c);
      } else {
        axes.push_back(static_cast<int64_t>(d));
      }
    }
    if (axes.empty()) continue;
    const std::vector<std::string> extra =
        opset_ >= 13 ? std::vector<std::string>{int64_constant(axes)}
                     : std::vector<std::string>{};
    onnx::NodeProto& n = emit("ReduceSum", t, extra);
    onnx::AttributeProto* keep = n.add_attribute();
    keep->set_name("keepdims");
    keep->set_type(onnx::AttributeProto::INT);
    keep->set_i(0);
    if (opset_ < 13) ints_attr(&n, "axes", axes);
    labels[t] = kept;
  }

  if (labels.size() == 2) {
    // [batch, free, contracted] · [batch, contracted, free] as one MatMul.
    Labels batch, free_a, free_b, contracted;
    for (char c : labels[0]) {
      if (has(labels[1], c)) {
        (has(output, c) ? batch : contracted).push_back(c);
      } else {
        free_a.push_back(c);
      }
    }
    for (char c : labels[1]) {
      if (!has(labels[0], c)) free_b.push_back(c);
    }
    transpose_to(0, batch + free_a + contracted);
    transpose_to(1, batch + contracted + free_b);
    // Each operand as [batch..., rows, columns]: groups of other than one
    // index are merged, or become a dimension of one. Without batch
    // indices, all but the last of the first operand's free ones stay
    // dimensions of their own that the product broadcasts over
    // ("bnd,de->bne" is a product with a matrix, a Linear if it is
    // constant).
    const Labels lead = batch.empty() && !free_a.empty()
                            ? free_a.substr(0, free_a.size() - 1)
                            : Labels();
    const Labels rows = free_a.substr(lead.size());
    // A group of one index keeps its label.
    auto label = [](const Labels& group, char merged) {
      return group.size() == 1 ? group[0] : merged;
    };
    const char row = label(rows, '\x01');
    const char inner = label(contracted, '\x02');
    const char col = label(free_b, '\x03');
    const bool matrices =
        rows.size() == 1 && contracted.size() == 1 && free_b.size() == 1;
    if (!matrices) {
      reshape_to(0, batch + lead, {rows, contracted},
                 batch + lead + row + inner);
      reshape_to(1, batch, {contracted, free_b}, batch + inner + col);
    }
    emit("MatMul", 0, {names[1]});
    names.resize(1);
    labels = {batch + lead + row + col};
    if (!matrices) {
      std::vector<Labels> groups;
      for (char c : rows + free_b) groups.push_back(Labels(1, c));
      reshape_to(0, batch + lead, groups, batch + free_a + free_b);
    }
  }
  transpose_to(0, output);
  if (!pending) emit("Identity", 0, {});
  pending->set_output(0, node.output(0));
  flush();
}
SPRUCE_ONNX_RULE(einsum, {"Einsum"}, ImportRule::kNone, /*weight_inputs=*/{});

}  // namespace spruce::converters
