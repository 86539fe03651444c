// .spruce reader. The file is untrusted: nothing is read before the bytes it
// lives in are known to be inside the file, no count is used for an
// allocation before it is bounded by the file's size, and every index is
// range-checked before a kernel can follow it.
#include "model_reader.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "file_format.h"
#include "ops/op.h"
#include "spruce/error.h"
#include "spruce/sparse_matrix.h"
#include "spruce_generated.h"

namespace spruce {
namespace {

namespace fb = spruce::format;

class Reader {
 public:
  Reader(const uint8_t* data, size_t size, std::string path)
      : data_(data), size_(size), path_(std::move(path)) {}

  Graph read(bool verify_checksums) {
    const fb::FileHeader header = read_header();
    format_version_ = header.format_version;
    const uint8_t* meta = data_ + header.metadata_offset;
    blobs_ = data_ + header.blobs_offset;
    blobs_bytes_ = header.blobs_bytes;
    if (verify_checksums) {
      if (fb::checksum(meta, header.metadata_bytes) !=
          header.metadata_checksum) {
        fail("graph checksum mismatch: the file is corrupt");
      }
      if (fb::checksum(blobs_, blobs_bytes_) != header.blobs_checksum) {
        fail("weight data checksum mismatch: the file is corrupt");
      }
    }
    flatbuffers::Verifier::Options options;
    options.max_depth = 16;
    options.max_tables = 1u << 22;
    flatbuffers::Verifier verifier(meta, header.metadata_bytes, options);
    if (!fb::VerifyModelBuffer(verifier)) {
      fail("graph section fails FlatBuffers verification: the file is corrupt");
    }
    const fb::Model* model = fb::GetModel(meta);

    Graph graph;
    if (model->producer() != nullptr) graph.producer = model->producer()->str();
    read_metadata(*model, &graph);
    read_values(*model, &graph);
    read_weights(*model, &graph);
    read_endpoints(*model, &graph);
    read_nodes(*model, &graph);
    check_order_and_shapes(&graph);
    return graph;
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(path_ + ": " + message);
  }

  fb::FileHeader read_header() const {
    fb::FileHeader h{};
    if (size_ == 0) fail("file is empty");
    if (std::memcmp(data_, fb::kMagic, std::min(size_, sizeof(fb::kMagic))) !=
        0) {
      fail("not a .spruce file (bad magic bytes)");
    }
    if (size_ < sizeof(h)) {
      fail("file is " + std::to_string(size_) +
           " bytes, too short for a .spruce header (is it truncated?)");
    }
    std::memcpy(&h, data_, sizeof(h));
    if (h.format_version < fb::kOldestFormatVersion ||
        h.format_version > fb::kFormatVersion) {
      fail("format version " + std::to_string(h.format_version) +
           " is not supported; this spruce reads versions " +
           std::to_string(fb::kOldestFormatVersion) + " to " +
           std::to_string(fb::kFormatVersion) +
           (h.format_version > fb::kFormatVersion
                ? " (written by a newer spruce?)"
                : ""));
    }
    if (h.header_bytes != sizeof(h) || h.metadata_offset != sizeof(h)) {
      fail("corrupt header (header size or graph offset)");
    }
    if (h.metadata_bytes == 0 || h.metadata_bytes > size_ - sizeof(h)) {
      fail("graph section of " + std::to_string(h.metadata_bytes) +
           " bytes does not fit in a file of " + std::to_string(size_) +
           " bytes (is it truncated?)");
    }
    if (h.blobs_offset % fb::kBlobAlignment != 0 ||
        h.blobs_offset < h.metadata_offset + h.metadata_bytes ||
        h.blobs_offset > size_) {
      fail("corrupt header (weight data offset " +
           std::to_string(h.blobs_offset) + ")");
    }
    // The alignment padding before the weights is not checksummed: it must
    // be zero, so no byte of a file can change unnoticed.
    for (size_t k = h.metadata_offset + h.metadata_bytes; k < h.blobs_offset;
         ++k) {
      if (data_[k] != 0) {
        fail("corrupt padding at byte " + std::to_string(k) +
             " before the weight data");
      }
    }
    if (h.blobs_bytes != size_ - h.blobs_offset) {
      fail("file is " + std::to_string(size_) + " bytes but its header says " +
           std::to_string(h.blobs_offset + h.blobs_bytes) +
           " (truncated or extended)");
    }
    return h;
  }

  void read_metadata(const fb::Model& model, Graph* graph) const {
    if (model.metadata() == nullptr) return;
    for (const fb::KeyValue* kv : *model.metadata()) {
      graph->metadata[kv->key()->str()] =
          kv->value() != nullptr ? kv->value()->str() : "";
    }
  }

  // The verifier checks a vector's length field for 4-byte alignment only,
  // so a hostile file can place int64 elements off their 8-byte alignment:
  // copy the bytes instead of loading them as int64 (the fuzzer's finding).
  static std::vector<int64_t> copy_int64s(
      const flatbuffers::Vector<int64_t>* v) {
    std::vector<int64_t> out(v->size());
    if (!out.empty()) {
      std::memcpy(out.data(), v->Data(), out.size() * sizeof(int64_t));
    }
    return out;
  }

  Shape read_shape(const flatbuffers::Vector<int64_t>* dims,
                   const std::string& what, bool allow_dynamic) const {
    if (dims->size() > kMaxRank) {
      fail(what + " has rank " + std::to_string(dims->size()) + ", more than " +
           std::to_string(kMaxRank));
    }
    Shape shape = copy_int64s(dims);
    for (int64_t d : shape) {
      if (d == 0 || d < -1 || (d == -1 && !allow_dynamic)) {
        fail(what + " has invalid shape " + to_string(shape));
      }
    }
    return shape;
  }

  void read_values(const fb::Model& model, Graph* graph) const {
    if (model.values() == nullptr) return;
    for (const fb::Value* v : *model.values()) {
      ValueDesc value;
      value.name = v->name()->str();
      const std::string what = "tensor '" + value.name + "'";
      value.shape = read_shape(v->shape(), what, /*allow_dynamic=*/true);
      if (v->dtype() > fb::DataType::MAX) {
        fail(what + " has unknown data type " +
             std::to_string(static_cast<int>(v->dtype())));
      }
      value.dtype = static_cast<DataType>(v->dtype());
      // Static part of the shape bounded now; dynamic dims at run time.
      size_t elements = 1;
      for (int64_t d : value.shape) {
        if (d > 0) {
          if (static_cast<size_t>(d) > kMaxActivationElements / elements) {
            fail(what + " declares shape " + to_string(value.shape) +
                 ", more than " + std::to_string(kMaxActivationElements) +
                 " elements");
          }
          elements *= static_cast<size_t>(d);
        }
      }
      graph->values.push_back(std::move(value));
    }
  }

  // A blob inside the blob section, aligned, of exactly `expected_bytes`.
  const uint8_t* blob(const fb::BlobRef* ref, size_t expected_bytes,
                      const std::string& what) const {
    if (ref == nullptr) {
      if (expected_bytes == 0) return nullptr;
      fail(what + " is missing");
    }
    if (ref->offset() % fb::kBlobAlignment != 0) {
      fail(what + " at offset " + std::to_string(ref->offset()) +
           " is not 64-byte aligned");
    }
    if (ref->offset() > blobs_bytes_ ||
        ref->bytes() > blobs_bytes_ - ref->offset()) {
      fail(what + " (" + std::to_string(ref->bytes()) + " bytes at offset " +
           std::to_string(ref->offset()) + ") lies outside the file");
    }
    if (ref->bytes() != expected_bytes) {
      fail(what + " is " + std::to_string(ref->bytes()) + " bytes, expected " +
           std::to_string(expected_bytes));
    }
    return blobs_ + ref->offset();
  }

  // rows * cols, failing if it cannot be a weight of this file.
  size_t bounded_count(const Shape& shape, const std::string& what) const {
    size_t count = 1;
    for (int64_t d : shape) {
      const auto dim = static_cast<size_t>(d);
      if (dim > std::numeric_limits<size_t>::max() / 4 / count) {
        fail(what + " shape " + to_string(shape) + " is too large");
      }
      count *= dim;
    }
    return count;
  }

  void read_weights(const fb::Model& model, Graph* graph) const {
    if (model.weights() == nullptr) return;
    std::unordered_set<std::string> names;
    for (const fb::Weight* w : *model.weights()) {
      WeightDesc weight;
      weight.name = w->name()->str();
      const std::string what = "weight '" + weight.name + "'";
      if (!names.insert(weight.name).second) fail("duplicate " + what);
      if (w->dtype() != fb::DataType::Float32) {
        fail(what + " has unsupported data type " +
             std::to_string(static_cast<int>(w->dtype())));
      }
      weight.shape = read_shape(w->shape(), what, /*allow_dynamic=*/false);
      if (weight.shape.empty()) fail(what + " is a scalar");
      const size_t count = bounded_count(weight.shape, what);
      switch (w->layout()) {
        case fb::Layout::Dense:
          weight.layout = WeightLayout::kDense;
          weight.value_count = count;
          weight.values = reinterpret_cast<const float*>(
              blob(w->values(), count * sizeof(float), what + " values"));
          weight.stored_bytes = count * sizeof(float);
          break;
        case fb::Layout::Csr:
          read_csr(*w, what, &weight);
          break;
        case fb::Layout::Bsr:
          read_bsr(*w, what, &weight);
          break;
        default:
          fail(what + " has unknown storage layout " +
               std::to_string(static_cast<int>(w->layout())) +
               " (written by a newer spruce?)");
      }
      graph->weights.push_back(std::move(weight));
    }
  }

  kernels::IndexWidth index_width(const fb::Weight& w,
                                  const std::string& what) const {
    if (w.index_bits() == 16) return kernels::IndexWidth::k16;
    if (w.index_bits() == 32) return kernels::IndexWidth::k32;
    fail(what + " has index width " + std::to_string(w.index_bits()) +
         ", expected 16 or 32");
  }

  // Row pointers of `row_count` rows; returns the pointer and the count of
  // stored entries row_ptr[row_count].
  const uint32_t* row_pointers(const fb::Weight& w, size_t row_count,
                               const std::string& what, size_t* stored) const {
    const auto* row_ptr = reinterpret_cast<const uint32_t*>(
        blob(w.row_ptr(), (row_count + 1) * sizeof(uint32_t),
             what + " row pointers"));
    *stored = row_ptr[row_count];
    return row_ptr;
  }

  void read_csr(const fb::Weight& w, const std::string& what,
                WeightDesc* weight) const {
    if (weight->shape.size() != 2) {
      fail(what + " is stored as CSR but has shape " +
           to_string(weight->shape));
    }
    weight->layout = WeightLayout::kCsr;
    const auto rows = static_cast<size_t>(weight->shape[0]);
    const auto cols = static_cast<size_t>(weight->shape[1]);
    const kernels::IndexWidth width = index_width(w, what);
    size_t nnz = 0;
    const uint32_t* row_ptr = row_pointers(w, rows, what, &nnz);
    if (nnz > rows * cols) {
      fail(what + " claims " + std::to_string(nnz) + " non-zeros in a " +
           to_string(weight->shape) + " matrix");
    }
    const size_t index_bytes = nnz * (static_cast<size_t>(width) / 8);
    kernels::CsrView& v = weight->csr;
    v.rows = rows;
    v.cols = cols;
    v.row_ptr = row_ptr;
    v.index_width = width;
    v.col_idx = blob(w.col_idx(), index_bytes, what + " column indices");
    v.values = reinterpret_cast<const float*>(
        blob(w.values(), nnz * sizeof(float), what + " values"));
    validate_csr(v, path_ + ": " + what);
    weight->values = v.values;
    weight->value_count = nnz;
    weight->stored_bytes =
        nnz * sizeof(float) + index_bytes + (rows + 1) * sizeof(uint32_t);
  }

  void read_bsr(const fb::Weight& w, const std::string& what,
                WeightDesc* weight) const {
    if (weight->shape.size() != 2) {
      fail(what + " is stored as BSR but has shape " +
           to_string(weight->shape));
    }
    weight->layout = WeightLayout::kBsr;
    const auto rows = static_cast<size_t>(weight->shape[0]);
    const auto cols = static_cast<size_t>(weight->shape[1]);
    const size_t br = w.block_rows();
    const size_t bc = w.block_cols();
    if (br == 0 || bc == 0 || br > rows || bc > cols) {
      fail(what + " has block shape " + std::to_string(br) + "x" +
           std::to_string(bc) + " for shape " + to_string(weight->shape));
    }
    const size_t row_blocks = (rows + br - 1) / br;
    const size_t col_blocks = (cols + bc - 1) / bc;
    const kernels::IndexWidth width = index_width(w, what);
    size_t blocks = 0;
    const uint32_t* row_ptr = row_pointers(w, row_blocks, what, &blocks);
    if (blocks > row_blocks * col_blocks) {
      fail(what + " claims " + std::to_string(blocks) + " blocks, at most " +
           std::to_string(row_blocks * col_blocks) + " fit");
    }
    const size_t index_bytes = blocks * (static_cast<size_t>(width) / 8);
    const void* col_idx =
        blob(w.col_idx(), index_bytes, what + " block column indices");
    const size_t value_count = blocks * br * bc;
    kernels::BsrView& v = weight->bsr;
    v.rows = rows;
    v.cols = cols;
    v.block_rows = br;
    v.block_cols = bc;
    v.row_ptr = row_ptr;
    v.col_idx = col_idx;
    v.index_width = width;
    v.values = reinterpret_cast<const float*>(
        blob(w.values(), value_count * sizeof(float), what + " values"));
    validate_bsr(v, path_ + ": " + what);
    weight->values = v.values;
    weight->value_count = value_count;
    weight->stored_bytes = value_count * sizeof(float) + index_bytes +
                           (row_blocks + 1) * sizeof(uint32_t);
  }

  // Value indices; kNoValue (an absent optional tensor) only where
  // `allow_absent` (the op's check then says which positions may be absent).
  std::vector<uint32_t> value_indices(const flatbuffers::Vector<uint32_t>* v,
                                      const Graph& graph,
                                      const std::string& what,
                                      bool allow_absent = false) const {
    std::vector<uint32_t> out;
    if (v == nullptr) return out;
    for (uint32_t i : *v) {
      if (i == kNoValue && allow_absent) {
        out.push_back(i);
        continue;
      }
      if (i >= graph.values.size()) {
        fail(what + " refers to tensor #" + std::to_string(i) + " of " +
             std::to_string(graph.values.size()));
      }
      out.push_back(i);
    }
    return out;
  }

  void read_endpoints(const fb::Model& model, Graph* graph) const {
    graph->inputs = value_indices(model.inputs(), *graph, "model input");
    graph->outputs = value_indices(model.outputs(), *graph, "model output");
    if (graph->inputs.empty()) fail("model has no inputs");
    if (graph->outputs.empty()) fail("model has no outputs");
  }

  void read_nodes(const fb::Model& model, Graph* graph) const {
    if (model.nodes() == nullptr) return;
    for (const fb::Node* n : *model.nodes()) {
      NodeDesc node;
      node.name = n->name() != nullptr ? n->name()->str() : "";
      std::string what = "node '" + node.name + "'";
      const std::optional<OpKind> op = op_from_code(n->op());
      if (!op) {
        fail(what + " has unknown op type " + std::to_string(n->op()) +
             " (written by a newer spruce?)");
      }
      node.op = *op;
      what = std::string(op_name(node.op)) + " " + what;
      const OpRule& rule = op_rule(node.op);
      const bool optional_tensors = rule.optional_values;
      node.inputs = value_indices(n->inputs(), *graph, what, optional_tensors);
      node.outputs =
          value_indices(n->outputs(), *graph, what, optional_tensors);
      if (n->weights() != nullptr) {
        for (uint32_t i : *n->weights()) {
          if (i >= graph->weights.size()) {
            fail(what + " refers to weight #" + std::to_string(i) + " of " +
                 std::to_string(graph->weights.size()));
          }
          node.weights.push_back(i);
        }
      }
      if (format_version_ >= 2) {
        read_attributes(*n, what, &node.attrs);
      } else {
        read_format1_params(*n, node.op, what, &node.attrs);
      }
      try {
        rule.check(*graph, node);
      } catch (const Error& e) {
        fail(labeled(node, e.what()));
      }
      graph->nodes.push_back(std::move(node));
    }
  }

  // Attributes are bounded so that no size computed from them overflows;
  // each op's check says which it needs and what they may hold.
  static constexpr size_t kMaxAttributes = 64;
  static constexpr size_t kMaxAttributeValues = 4 * kMaxRank;
  static constexpr int64_t kMaxAttributeInt = int64_t{1} << 40;

  void read_attributes(const fb::Node& n, const std::string& what,
                       Attributes* attrs) const {
    if (n.attributes() == nullptr) return;
    if (n.attributes()->size() > kMaxAttributes) {
      fail(what + " has " + std::to_string(n.attributes()->size()) +
           " attributes");
    }
    for (const fb::Attribute* a : *n.attributes()) {
      Attribute attr;
      attr.name = a->name()->str();
      const std::string where = what + " attribute '" + attr.name + "'";
      if (attrs->has(attr.name)) fail(where + " is given twice");
      if (a->ints() != nullptr) {
        if (a->ints()->size() > kMaxAttributeValues) {
          fail(where + " has " + std::to_string(a->ints()->size()) +
               " values");
        }
        attr.ints = copy_int64s(a->ints());
      }
      if (a->floats() != nullptr) {
        if (a->floats()->size() > kMaxAttributeValues) {
          fail(where + " has " + std::to_string(a->floats()->size()) +
               " values");
        }
        attr.floats.assign(a->floats()->begin(), a->floats()->end());
      }
      check_attribute_ints(attr, where);
      attrs->add(std::move(attr));
    }
  }

  void check_attribute_ints(const Attribute& attr,
                            const std::string& where) const {
    for (int64_t v : attr.ints) {
      if (v < -kMaxAttributeInt || v > kMaxAttributeInt) {
        fail(where + " has value " + std::to_string(v) + " out of range");
      }
    }
  }

  // A format 1 node keeps its parameters in fields of its own: each op's
  // become the attributes format 2 writes (op_params.h, ops/*.cc).
  void read_format1_params(const fb::Node& n, OpKind op,
                           const std::string& what, Attributes* attrs) const {
    const auto code = static_cast<int64_t>(n.activation());
    if (code != 0) attrs->set_int("activation", code);
    const auto ints = [&]() {
      if (n.ints() == nullptr) return std::vector<int64_t>();
      if (n.ints()->size() > kMaxAttributeValues) {
        fail(what + " has " + std::to_string(n.ints()->size()) +
             " integer parameters");
      }
      std::vector<int64_t> v = copy_int64s(n.ints());
      check_attribute_ints({"ints", v, {}}, what);
      return v;
    };
    switch (op) {
      case OpKind::kLstm: {
        const fb::LstmParams* f = n.lstm();
        if (f == nullptr) fail(what + " has no LSTM parameters");
        attrs->set_int("hidden_size", f->hidden_size());
        attrs->set_int("direction", static_cast<int64_t>(f->direction()));
        attrs->set_int("input_batch_major", f->input_batch_major());
        attrs->set_int("output_batch_major", f->output_batch_major());
        attrs->set_int("merged_output", f->merged_output());
        attrs->set_int("state_batch_major", f->state_batch_major());
        attrs->set_int("state_offset", f->state_offset());
        break;
      }
      case OpKind::kConv:
      case OpKind::kMaxPool:
      case OpKind::kAveragePool: {
        const fb::SpatialParams* f = n.spatial();
        if (f == nullptr) fail(what + " has no window parameters");
        const auto list = [&](const char* name,
                              const flatbuffers::Vector<uint32_t>* v) {
          if (v == nullptr) return;
          if (v->size() > kMaxAttributeValues) {
            fail(what + " has " + std::to_string(v->size()) + " " + name);
          }
          attrs->set_ints(name, std::vector<int64_t>(v->begin(), v->end()));
        };
        list("kernel", f->kernel());
        list("strides", f->strides());
        list("pads", f->pads());
        list("dilations", f->dilations());
        attrs->set_int("group", f->group());
        attrs->set_int("ceil_mode", f->ceil_mode());
        attrs->set_int("count_include_pad", f->count_include_pad());
        break;
      }
      case OpKind::kClip:
        attrs->set_float("min", n.clip_min());
        attrs->set_float("max", n.clip_max());
        break;
      case OpKind::kFlatten:
      case OpKind::kConcat:
        attrs->set_int("axis", n.axis());
        break;
      case OpKind::kSplit:
        attrs->set_int("axis", n.axis());
        attrs->set_ints("split", ints());
        break;
      case OpKind::kSoftmax:
        attrs->set_int("axis", n.axis());
        attrs->set_int("coerce_2d", n.coerce_2d());
        break;
      case OpKind::kLayerNorm:
        attrs->set_int("axis", n.axis());
        attrs->set_float("epsilon", n.epsilon());
        break;
      case OpKind::kReduce:
        attrs->set_ints("axes", ints());
        attrs->set_int("keepdims", n.keepdims());
        break;
      case OpKind::kBinary:
        attrs->set_int("op", static_cast<int64_t>(n.binary_op()));
        break;
      case OpKind::kUnary:
        attrs->set_int("op", static_cast<int64_t>(n.unary_op()));
        break;
      case OpKind::kTranspose:
        attrs->set_ints("perm", ints());
        break;
      case OpKind::kReshape:
      case OpKind::kExpand:
        attrs->set_ints("shape", ints());
        break;
      case OpKind::kSlice:
        attrs->set_ints("slices", ints());
        if (n.end_dims() != nullptr) {
          if (n.end_dims()->size() > kMaxRank) {
            fail(what + " has " + std::to_string(n.end_dims()->size()) +
                 " end_dims");
          }
          attrs->set_ints("end_dims", std::vector<int64_t>(
                                          n.end_dims()->begin(),
                                          n.end_dims()->end()));
        }
        break;
      default:
        break;  // no parameters
    }
  }

  // Nodes run in file order: each input must exist before its node runs, each
  // tensor is produced once, and the declared shapes agree with the ops.
  void check_order_and_shapes(Graph* graph) const {
    std::vector<bool> ready(graph->values.size(), false);
    for (uint32_t i : graph->inputs) ready[i] = true;
    for (const NodeDesc& node : graph->nodes) {
      const std::string what = node_label(node);
      std::vector<Shape> input_shapes;
      for (uint32_t i : node.inputs) {
        if (i == kNoValue) {
          input_shapes.emplace_back();
          continue;
        }
        if (!ready[i]) {
          fail(what + " reads tensor '" + graph->values[i].name +
               "' before it is computed");
        }
        input_shapes.push_back(graph->values[i].shape);
      }
      std::vector<Shape> computed;
      try {
        computed = op_rule(node.op).output_shapes(*graph, node, input_shapes);
      } catch (const Error& e) {
        fail(labeled(node, e.what()));
      }
      for (size_t k = 0; k < node.outputs.size(); ++k) {
        const uint32_t o = node.outputs[k];
        if (o == kNoValue) continue;
        if (ready[o]) {
          fail(what + " writes tensor '" + graph->values[o].name +
               "', which already has a value");
        }
        ready[o] = true;
        if (computed[k] != graph->values[o].shape) {
          fail(what + " computes shape " + to_string(computed[k]) +
               " but tensor '" + graph->values[o].name + "' is declared " +
               to_string(graph->values[o].shape));
        }
      }
    }
    for (uint32_t o : graph->outputs) {
      if (!ready[o]) {
        fail("model output '" + graph->values[o].name + "' is never computed");
      }
    }
  }

  const uint8_t* data_;
  size_t size_;
  std::string path_;
  uint32_t format_version_ = 0;
  const uint8_t* blobs_ = nullptr;
  size_t blobs_bytes_ = 0;
};

}  // namespace

Graph read_model(const uint8_t* data, size_t size, const std::string& path,
                 bool verify_checksums) {
  return Reader(data, size, path).read(verify_checksums);
}

}  // namespace spruce
