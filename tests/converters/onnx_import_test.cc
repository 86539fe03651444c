// ONNX import on the committed fixtures and on small models built here.
#include "spruce/converters/onnx_import.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

#include "spruce/error.h"
#include "test_util.h"

namespace spruce::converters {
namespace {

using spruce::testing::fixture;
using spruce::testing::temp_path;

std::string convert_error(const std::string& path) {
  try {
    import_onnx(path, {}, nullptr);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(OnnxImport, PrunedMlpBecomesCsrAndFusesReluAndFlatten) {
  ConversionReport report;
  const ModelDef model = import_onnx(fixture("mlp_pruned90/model.onnx"), {}, &report);
  ASSERT_EQ(model.nodes.size(), 4u);
  EXPECT_EQ(model.nodes[0].op, OpType::kFlatten);
  EXPECT_EQ(model.nodes[1].activation, kernels::Activation::kRelu);
  EXPECT_EQ(model.nodes[2].activation, kernels::Activation::kRelu);
  EXPECT_EQ(model.nodes[3].activation, kernels::Activation::kNone);
  ASSERT_EQ(report.layers.size(), 3u);
  for (const auto& layer : report.layers) {
    EXPECT_EQ(layer.format, WeightFormat::kCsr) << layer.node;
    EXPECT_GT(layer.sparsity, 0.5);
  }
  EXPECT_EQ(model.values[model.inputs[0]].shape, (Shape{-1, 8, 16}));
  EXPECT_EQ(model.values[model.outputs[0]].name, "output");
}

TEST(OnnxImport, StoredModelIsAtLeastFiveTimesSmallerThanOnnx) {
  const std::string out = temp_path("mlp90.spruce");
  const ConversionReport report =
      convert_onnx_file(fixture("mlp_pruned90/model.onnx"), out, {});
  EXPECT_EQ(report.spruce_file_bytes, std::filesystem::file_size(out));
  EXPECT_GE(double(report.onnx_file_bytes) / report.spruce_file_bytes, 5.0);
}

TEST(OnnxImport, FoldsPruningMasksToTheSameFileAsPruneRemove) {
  const std::string removed = temp_path("removed.spruce");
  const std::string masked = temp_path("masked.spruce");
  convert_onnx_file(fixture("mlp_pruned90/model.onnx"), removed, {});
  const ConversionReport report =
      convert_onnx_file(fixture("mlp_pruned90_masked/model.onnx"), masked, {});
  size_t mask_folds = 0;
  for (const auto& note : report.folded) mask_folds += note.find("pruning mask") != std::string::npos;
  EXPECT_EQ(mask_folds, 3u);
  EXPECT_EQ(report.layers[0].weight, "1.weight");  // named after weight_orig
  // Same weights, same graph: only the metadata's source name may differ.
  EXPECT_EQ(std::filesystem::file_size(removed), std::filesystem::file_size(masked));
  ModelDef a = import_onnx(fixture("mlp_pruned90/model.onnx"), {}, nullptr);
  ModelDef b = import_onnx(fixture("mlp_pruned90_masked/model.onnx"), {}, nullptr);
  a.metadata.clear();
  b.metadata.clear();
  EXPECT_EQ(serialize_model(a), serialize_model(b));
}

TEST(OnnxImport, MatMulPlusAddBecomesLinearWithBias) {
  ConversionReport report;
  const ModelDef model = import_onnx(fixture("mlp_matmul/model.onnx"), {}, &report);
  ASSERT_EQ(model.nodes.size(), 2u);
  EXPECT_EQ(model.nodes[0].weights.size(), 2u);  // weight + fused bias
  EXPECT_EQ(model.nodes[1].weights.size(), 2u);
  EXPECT_EQ(model.values[model.inputs[0]].shape, (Shape{-1, 5, 32}));
}

TEST(OnnxImport, ThresholdAndDenseOptionKeepWeightsDense) {
  ConvertOptions dense;
  dense.dense = true;
  ConversionReport r1;
  import_onnx(fixture("mlp_pruned90/model.onnx"), dense, &r1);
  for (const auto& l : r1.layers) EXPECT_EQ(l.format, WeightFormat::kDense);
  ConvertOptions strict;
  strict.sparse_threshold = 0.95;  // layer 1 is ~70% sparse
  ConversionReport r2;
  import_onnx(fixture("mlp_pruned90/model.onnx"), strict, &r2);
  EXPECT_EQ(r2.layers[0].format, WeightFormat::kDense);
  EXPECT_EQ(r2.layers[1].format, WeightFormat::kCsr);
}

// A one-node model: input x [1, 4] -> op -> y.
std::string write_single_op_model(const std::string& op, const std::string& name) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(13);
  auto* graph = model.mutable_graph();
  auto* node = graph->add_node();
  node->set_op_type(op);
  node->set_name(name);
  node->add_input("x");
  node->add_output("y");
  for (const char* io : {"x", "y"}) {
    auto* v = io[0] == 'x' ? graph->add_input() : graph->add_output();
    v->set_name(io);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    t->mutable_shape()->add_dim()->set_dim_value(1);
    t->mutable_shape()->add_dim()->set_dim_value(4);
  }
  const std::string path = temp_path(op + ".onnx");
  std::ofstream out(path, std::ios::binary);
  model.SerializeToOstream(&out);
  return path;
}

TEST(OnnxImport, UnsupportedOpIsNamedWithItsNode) {
  const std::string e = convert_error(write_single_op_model("Softsign", "act/softsign"));
  EXPECT_NE(e.find("unsupported op 'Softsign'"), std::string::npos) << e;
  EXPECT_NE(e.find("'act/softsign'"), std::string::npos) << e;
}

TEST(OnnxImport, NotOnnxOrMissingFilesAreErrors) {
  const std::string text = temp_path("notes.onnx");
  std::ofstream(text) << "definitely not a protobuf\n";
  EXPECT_NE(convert_error(text).find("not an ONNX model"), std::string::npos);
  const std::string empty = temp_path("empty.onnx");
  std::ofstream{empty};
  EXPECT_NE(convert_error(empty).find("not an ONNX model"), std::string::npos);
  EXPECT_NE(convert_error("/nonexistent.onnx").find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace spruce::converters

namespace spruce::converters {
namespace {

// Malformed graphs a hostile or broken exporter could produce: each is an
// error naming the node, never a crash.
TEST(OnnxImport, MalformedNodesAreErrors) {
  auto model_with = [](auto edit) {
    onnx::ModelProto model;
    model.set_ir_version(8);
    model.add_opset_import()->set_version(13);
    auto* g = model.mutable_graph();
    auto* in = g->add_input();
    in->set_name("x");
    in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
    g->add_output()->set_name("y");
    auto* c = g->add_initializer();
    c->set_name("c");
    c->set_data_type(onnx::TensorProto::FLOAT);
    c->add_dims(2);
    c->add_float_data(1);
    c->add_float_data(2);
    edit(g);
    const std::string path = spruce::testing::temp_path("malformed.onnx");
    std::ofstream out(path, std::ios::binary);
    model.SerializeToOstream(&out);
    return path;
  };
  const std::string no_output = model_with([](onnx::GraphProto* g) {
    auto* n = g->add_node();
    n->set_op_type("Relu");
    n->set_name("r");
    n->add_input("x");
  });
  EXPECT_NE(convert_error(no_output).find("Relu node 'r': has no output"), std::string::npos);
  const std::string one_input_mul = model_with([](onnx::GraphProto* g) {
    auto* n = g->add_node();
    n->set_op_type("Mul");
    n->set_name("m");
    n->add_input("c");
    n->add_output("y");
  });
  EXPECT_NE(convert_error(one_input_mul).find("expected 2 inputs"), std::string::npos);
  const std::string bad_raw = model_with([](onnx::GraphProto* g) {
    auto* t = g->mutable_initializer(0);
    t->clear_float_data();
    t->set_raw_data(std::string(5, '\0'));
  });
  EXPECT_NE(convert_error(bad_raw).find("initializer 'c'"), std::string::npos);
  const std::string huge = model_with([](onnx::GraphProto* g) {
    auto* t = g->mutable_initializer(0);
    t->clear_float_data();
    t->clear_dims();
    t->add_dims(int64_t{1} << 62);  // * 4 bytes wraps to 0
    t->add_dims(1);
    t->set_raw_data(std::string());
  });
  EXPECT_FALSE(convert_error(huge).empty());
  const std::string relu_no_input = model_with([](onnx::GraphProto* g) {
    auto* n = g->add_node();
    n->set_op_type("Relu");
    n->set_name("r0");
    n->add_output("y");
  });
  EXPECT_NE(convert_error(relu_no_input).find("needs 1 input"), std::string::npos);
}

}  // namespace
}  // namespace spruce::converters
