// ONNX import: the entry points. The importer itself is onnx/importer.h,
// its rules onnx/rules/*.cc.
#include "spruce/converters/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <map>

#include "onnx/importer.h"
#include "onnx_util.h"
#include "spruce/error.h"

namespace spruce::converters {
namespace {

constexpr size_t kMaxOnnxBytes = size_t{2} << 30;  // protobuf's own limit

onnx::ModelProto read_onnx_model(const std::string& path) {
  const std::string bytes = read_file_bytes(path, kMaxOnnxBytes);
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes) || !model.has_graph() ||
      model.graph().output_size() == 0) {
    throw Error(path + ": not an ONNX model (no graph could be read)");
  }
  return model;
}

}  // namespace

ModelDef import_onnx(const std::string& path, const ConvertOptions& options,
                     ConversionReport* report) {
  ConversionReport local;
  return Importer(path, options, report != nullptr ? report : &local).run();
}

ConversionReport convert_onnx_file(const std::string& onnx_path,
                                   const std::string& spruce_path,
                                   const ConvertOptions& options) {
  ConversionReport report;
  const ModelDef model = import_onnx(onnx_path, options, &report);
  report.spruce_file_bytes = write_model(model, spruce_path);
  return report;
}

std::vector<OnnxOpCount> onnx_op_summary(const std::string& path) {
  const onnx::ModelProto model = read_onnx_model(path);
  std::map<std::string, OnnxOpCount> ops;
  for (const onnx::NodeProto& node : model.graph().node()) {
    const bool standard = node.domain().empty() || node.domain() == "ai.onnx";
    const std::string key =
        standard ? node.op_type() : node.domain() + "." + node.op_type();
    OnnxOpCount& c = ops[key];
    c.op = key;
    ++c.count;
    c.supported = standard && import_rule(node.op_type()) != nullptr;
  }
  std::vector<OnnxOpCount> out;
  for (auto& [name, c] : ops) out.push_back(std::move(c));
  return out;
}

}  // namespace spruce::converters
