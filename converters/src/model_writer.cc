// .spruce writer: FlatBuffer graph + 64-byte aligned blob section + checksums.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "file_format.h"
#include "spruce/converters/model_def.h"
#include "spruce/error.h"
#include "spruce/version.h"
#include "spruce_generated.h"

namespace spruce::converters {
namespace fb = spruce::format;

const char* format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::kDense:
      return "dense";
    case WeightFormat::kCsr:
      return "csr";
    case WeightFormat::kBsr:
      return "bsr";
  }
  return "?";
}

size_t WeightDef::dense_bytes() const {
  return element_count(shape) * sizeof(float);
}

size_t WeightDef::stored_bytes() const {
  switch (format) {
    case WeightFormat::kDense:
      return dense.size() * sizeof(float);
    case WeightFormat::kCsr:
      return csr.stored_bytes();
    case WeightFormat::kBsr:
      return bsr.stored_bytes();
  }
  return 0;
}

namespace {

class BlobSection {
 public:
  template <class T>
  fb::BlobRef add(const std::vector<T>& v) {
    const size_t offset = fb::align_up(bytes_.size(), fb::kBlobAlignment);
    const size_t size = v.size() * sizeof(T);
    bytes_.resize(offset + size);
    if (size > 0) std::memcpy(bytes_.data() + offset, v.data(), size);
    return fb::BlobRef(offset, size);
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

void add_compressed(const CompressedRows& m, BlobSection* blobs,
                    fb::BlobRef* row_ptr, fb::BlobRef* col_idx,
                    fb::BlobRef* values, uint8_t* bits) {
  *row_ptr = blobs->add(m.row_ptr);
  *bits = static_cast<uint8_t>(m.index_width);
  *col_idx = m.index_width == IndexWidth::k16 ? blobs->add(m.col16)
                                               : blobs->add(m.col32);
  *values = blobs->add(m.values);
}

flatbuffers::Offset<fb::Weight> add_weight(flatbuffers::FlatBufferBuilder& fbb,
                                           const WeightDef& w,
                                           BlobSection* blobs) {
  fb::BlobRef values, row_ptr, col_idx;
  uint8_t bits = 0;
  uint32_t block_rows = 0, block_cols = 0;
  fb::Layout layout = fb::Layout::Dense;
  switch (w.format) {
    case WeightFormat::kDense:
      values = blobs->add(w.dense);
      break;
    case WeightFormat::kCsr:
      layout = fb::Layout::Csr;
      add_compressed(w.csr.data(), blobs, &row_ptr, &col_idx, &values, &bits);
      break;
    case WeightFormat::kBsr:
      layout = fb::Layout::Bsr;
      add_compressed(w.bsr.data(), blobs, &row_ptr, &col_idx, &values, &bits);
      block_rows = static_cast<uint32_t>(w.bsr.block_rows());
      block_cols = static_cast<uint32_t>(w.bsr.block_cols());
      break;
  }
  const auto name = fbb.CreateString(w.name);
  const auto shape = fbb.CreateVector(w.shape);
  fb::WeightBuilder b(fbb);
  b.add_name(name);
  b.add_dtype(fb::DataType::Float32);
  b.add_shape(shape);
  b.add_layout(layout);
  b.add_values(&values);
  if (layout != fb::Layout::Dense) {
    b.add_row_ptr(&row_ptr);
    b.add_col_idx(&col_idx);
    b.add_index_bits(bits);
  }
  if (layout == fb::Layout::Bsr) {
    b.add_block_rows(block_rows);
    b.add_block_cols(block_cols);
  }
  return b.Finish();
}

}  // namespace

std::vector<uint8_t> serialize_model(const ModelDef& model) {
  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  BlobSection blobs;

  std::vector<flatbuffers::Offset<fb::Value>> values;
  for (const ValueDef& v : model.values) {
    values.push_back(fb::CreateValue(fbb, fbb.CreateString(v.name),
                                     fbb.CreateVector(v.shape),
                                     static_cast<fb::DataType>(v.dtype)));
  }
  std::vector<flatbuffers::Offset<fb::Weight>> weights;
  for (const WeightDef& w : model.weights) {
    weights.push_back(add_weight(fbb, w, &blobs));
  }
  std::vector<flatbuffers::Offset<fb::Node>> nodes;
  for (const NodeDef& n : model.nodes) {
    std::vector<flatbuffers::Offset<fb::Attribute>> attributes;
    for (const Attribute& a : n.attrs.items()) {
      attributes.push_back(fb::CreateAttribute(
          fbb, fbb.CreateString(a.name),
          a.ints.empty() ? 0 : fbb.CreateVector(a.ints),
          a.floats.empty() ? 0 : fbb.CreateVector(a.floats)));
    }
    const auto node_name = fbb.CreateString(n.name);
    const auto node_inputs = fbb.CreateVector(n.inputs);
    const auto node_outputs = fbb.CreateVector(n.outputs);
    const auto node_weights = fbb.CreateVector(n.weights);
    const auto node_attributes = fbb.CreateVector(attributes);
    fb::NodeBuilder node(fbb);  // format 2: no per-op fields
    node.add_name(node_name);
    node.add_op(static_cast<uint16_t>(n.op));
    node.add_inputs(node_inputs);
    node.add_outputs(node_outputs);
    node.add_weights(node_weights);
    node.add_attributes(node_attributes);
    nodes.push_back(node.Finish());
  }
  std::vector<flatbuffers::Offset<fb::KeyValue>> metadata;
  for (const auto& [key, value] : model.metadata) {
    metadata.push_back(fb::CreateKeyValue(fbb, fbb.CreateString(key),
                                          fbb.CreateString(value)));
  }
  const auto root = fb::CreateModel(
      fbb, fbb.CreateString(std::string("spruce ") + kVersionString),
      fbb.CreateVector(values), fbb.CreateVector(weights),
      fbb.CreateVector(nodes), fbb.CreateVector(model.inputs),
      fbb.CreateVector(model.outputs), fbb.CreateVector(metadata));
  fb::FinishModelBuffer(fbb, root);

  fb::FileHeader header{};
  std::memcpy(header.magic, fb::kMagic, sizeof(header.magic));
  header.format_version = fb::kFormatVersion;
  header.header_bytes = sizeof(header);
  header.metadata_offset = sizeof(header);
  header.metadata_bytes = fbb.GetSize();
  header.blobs_offset = fb::align_up(header.metadata_offset +
                                         header.metadata_bytes,
                                     fb::kBlobAlignment);
  header.blobs_bytes = blobs.bytes().size();
  header.metadata_checksum = fb::checksum(fbb.GetBufferPointer(), fbb.GetSize());
  header.blobs_checksum =
      fb::checksum(blobs.bytes().data(), blobs.bytes().size());

  std::vector<uint8_t> file(header.blobs_offset + header.blobs_bytes, 0);
  std::memcpy(file.data(), &header, sizeof(header));
  std::memcpy(file.data() + header.metadata_offset, fbb.GetBufferPointer(),
              fbb.GetSize());
  if (!blobs.bytes().empty()) {
    std::memcpy(file.data() + header.blobs_offset, blobs.bytes().data(),
                blobs.bytes().size());
  }
  return file;
}

size_t write_model(const ModelDef& model, const std::string& path) {
  const std::vector<uint8_t> bytes = serialize_model(model);
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw Error(path + ": cannot write: " + std::strerror(errno));
    }
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      throw Error(path + ": write failed (disk full?)");
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(temp.c_str());
    throw Error(path + ": cannot replace: " + std::strerror(err));
  }
  return bytes.size();
}

}  // namespace spruce::converters
