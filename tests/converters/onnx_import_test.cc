// ONNX import on the committed fixtures and on small models built here.
#include "spruce/converters/onnx_import.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <vector>

#include "onnx/importer.h"
#include "spruce/engine.h"
#include "spruce/error.h"
#include "test_util.h"

namespace spruce::converters {
namespace {

using spruce::testing::fixture;
using spruce::testing::temp_path;

// The small models built here: an empty model of ONNX `opset`, a float
// tensor declared with `dims` (a negative one dynamic, named "batch"), and
// the model written to a temporary file `name` (its path returned).
onnx::ModelProto new_model(int opset) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(opset);
  return model;
}

void declare_float(onnx::ValueInfoProto* v, const std::string& name,
                   const std::vector<int64_t>& dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) {
    auto* dim = t->mutable_shape()->add_dim();
    if (d < 0) {
      dim->set_dim_param("batch");
    } else {
      dim->set_dim_value(d);
    }
  }
}

// A node of `op` named after its one output, reading `in`.
onnx::NodeProto* add_node(onnx::GraphProto* g, const char* op,
                          const std::vector<std::string>& in,
                          const std::string& out) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(out);
  for (const std::string& i : in) n->add_input(i);
  n->add_output(out);
  return n;
}

// A float initializer `name` of shape `dims` holding `values`.
void add_initializer(onnx::GraphProto* g, const std::string& name,
                     const std::vector<int64_t>& dims,
                     const std::vector<float>& values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
}

std::string write_onnx(const onnx::ModelProto& model, const std::string& name) {
  const std::string path = temp_path(name);
  std::ofstream out(path, std::ios::binary);
  model.SerializeToOstream(&out);
  return path;
}

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
  const ModelDef model =
      import_onnx(fixture("mlp_pruned90/model.onnx"), {}, &report);
  ASSERT_EQ(model.nodes.size(), 4u);
  EXPECT_EQ(model.nodes[0].op, OpKind::kFlatten);
  EXPECT_EQ(activation_of(model.nodes[1].attrs), kernels::Activation::kRelu);
  EXPECT_EQ(activation_of(model.nodes[2].attrs), kernels::Activation::kRelu);
  EXPECT_EQ(activation_of(model.nodes[3].attrs), kernels::Activation::kNone);
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
  for (const auto& note : report.folded)
    mask_folds += note.find("pruning mask") != std::string::npos;
  EXPECT_EQ(mask_folds, 3u);
  EXPECT_EQ(report.layers[0].weight, "1.weight");  // named after weight_orig
  // Same weights, same graph: only the metadata's source name may differ.
  EXPECT_EQ(std::filesystem::file_size(removed),
            std::filesystem::file_size(masked));
  ModelDef a = import_onnx(fixture("mlp_pruned90/model.onnx"), {}, nullptr);
  ModelDef b =
      import_onnx(fixture("mlp_pruned90_masked/model.onnx"), {}, nullptr);
  a.metadata.clear();
  b.metadata.clear();
  EXPECT_EQ(serialize_model(a), serialize_model(b));
}

TEST(OnnxImport, MatMulPlusAddBecomesLinearWithBias) {
  ConversionReport report;
  const ModelDef model =
      import_onnx(fixture("mlp_matmul/model.onnx"), {}, &report);
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
std::string write_single_op_model(const std::string& op,
                                  const std::string& name) {
  onnx::ModelProto model = new_model(13);
  auto* graph = model.mutable_graph();
  auto* node = graph->add_node();
  node->set_op_type(op);
  node->set_name(name);
  node->add_input("x");
  node->add_output("y");
  declare_float(graph->add_input(), "x", {1, 4});
  declare_float(graph->add_output(), "y", {1, 4});
  return write_onnx(model, op + ".onnx");
}

// y = x · Wᵀ + b as one Gemm, W [out × in] zero outside 8x1 blocks (a
// block-pruned layer), x [-1, in].
struct BlockPrunedGemm {
  size_t out = 64, in = 48;
  std::vector<float> w, b;
  std::string path;

  BlockPrunedGemm() : w(out * in, 0.0f), b(out) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::uniform_int_distribution<int> keep(0, 9);
    for (size_t r0 = 0; r0 < out; r0 += 8) {
      for (size_t c = 0; c < in; ++c) {
        if (keep(rng) != 0) continue;  // keep ~10% of blocks
        for (size_t r = r0; r < r0 + 8; ++r) w[r * in + c] = u(rng);
      }
    }
    for (float& v : b) v = u(rng);
    onnx::ModelProto model = new_model(13);
    auto* graph = model.mutable_graph();
    auto* node = graph->add_node();
    node->set_op_type("Gemm");
    node->set_name("fc");
    for (const char* i : {"x", "W", "B"}) node->add_input(i);
    node->add_output("y");
    auto* trans_b = node->add_attribute();
    trans_b->set_name("transB");
    trans_b->set_type(onnx::AttributeProto::INT);
    trans_b->set_i(1);
    add_initializer(graph, "W", {int64_t(out), int64_t(in)}, w);
    add_initializer(graph, "B", {int64_t(out)}, b);
    declare_float(graph->add_input(), "x", {-1, int64_t(in)});
    declare_float(graph->add_output(), "y", {-1, int64_t(out)});
    path = write_onnx(model, "block_pruned.onnx");
  }

  std::vector<float> reference(const std::vector<float>& x, size_t n) const {
    std::vector<float> y(n * out);
    for (size_t i = 0; i < n; ++i) {
      for (size_t o = 0; o < out; ++o) {
        double s = b[o];
        for (size_t k = 0; k < in; ++k)
          s += double(w[o * in + k]) * x[i * in + k];
        y[i * out + o] = static_cast<float>(s);
      }
    }
    return y;
  }
};

TEST(OnnxImport, BlockPrunedWeightsAreDetectedAndStoredBsr) {
  const BlockPrunedGemm m;
  ConversionReport automatic;
  import_onnx(m.path, {}, &automatic);
  ASSERT_EQ(automatic.layers.size(), 1u);
  EXPECT_EQ(automatic.layers[0].format, WeightFormat::kBsr);
  EXPECT_EQ(automatic.layers[0].block_rows, 8u);
  EXPECT_EQ(automatic.layers[0].block_cols, 1u);

  ConvertOptions none;
  none.block_sparse = false;
  ConversionReport csr;
  import_onnx(m.path, none, &csr);
  EXPECT_EQ(csr.layers[0].format, WeightFormat::kCsr);

  ConvertOptions forced;
  forced.block_rows = 4;
  forced.block_cols = 4;
  ConversionReport four;
  import_onnx(m.path, forced, &four);
  EXPECT_EQ(four.layers[0].format, WeightFormat::kBsr);
  EXPECT_EQ(four.layers[0].block_rows, 4u);

  ConvertOptions not_dividing;  // 48 columns are not a multiple of 5
  not_dividing.block_rows = 1;
  not_dividing.block_cols = 5;
  ConversionReport fallback;
  import_onnx(m.path, not_dividing, &fallback);
  EXPECT_EQ(fallback.layers[0].format, WeightFormat::kCsr);
}

// Unstructured sparsity leaves blocks mostly empty: auto-detection keeps CSR.
TEST(OnnxImport, UnstructuredPruningStaysCsr) {
  ConversionReport report;
  import_onnx(fixture("mlp_pruned90/model.onnx"), {}, &report);
  for (const auto& l : report.layers) EXPECT_EQ(l.format, WeightFormat::kCsr);
}

TEST(OnnxImport, BsrModelsRunLikeTheReferenceWithEveryKernelChoice) {
  const BlockPrunedGemm m;
  for (const char* block : {"auto", "4x4", "none"}) {
    ConvertOptions options;
    if (block == std::string("none")) options.block_sparse = false;
    if (block == std::string("4x4"))
      options.block_rows = options.block_cols = 4;
    const std::string out =
        temp_path(std::string("block_") + block + ".spruce");
    convert_onnx_file(m.path, out, options);
    EngineOptions measured;
    EngineOptions sparse;
    sparse.kernel_selection =
        EngineOptions::KernelSelection::kSparsityThreshold;
    sparse.sparse_kernel_min_sparsity = 0.0;
    EngineOptions dense;
    dense.force_dense = true;
    for (const EngineOptions& o : {measured, sparse, dense}) {
      const Engine engine = Engine::load(out, o);
      if (&o == &sparse) {
        EXPECT_EQ(engine.layers()[0].kernel_for(1)->kernel,
                  block == std::string("none") ? "sparse-csr" : "sparse-bsr");
      }
      for (size_t n : {1, 3, 8, 70}) {
        std::vector<float> x(n * m.in);
        for (size_t i = 0; i < x.size(); ++i)
          x[i] = float(i % 13) * 0.1f - 0.6f;
        const auto y =
            engine.run({{"x", x.data(), {int64_t(n), int64_t(m.in)}}});
        const auto ref = m.reference(x, n);
        ASSERT_EQ(y[0].size(), ref.size());
        for (size_t i = 0; i < ref.size(); ++i) {
          ASSERT_NEAR(y[0].data()[i], ref[i], 1e-4)
              << block << " n=" << n << " i=" << i;
        }
      }
    }
  }
}

TEST(OnnxImport, UnsupportedOpIsNamedWithItsNode) {
  const std::string e =
      convert_error(write_single_op_model("Det", "linalg/det"));
  EXPECT_NE(e.find("unsupported op 'Det'"), std::string::npos) << e;
  EXPECT_NE(e.find("'linalg/det'"), std::string::npos) << e;
}

TEST(OnnxImport, NotOnnxOrMissingFilesAreErrors) {
  const std::string text = temp_path("notes.onnx");
  std::ofstream(text) << "definitely not a protobuf\n";
  EXPECT_NE(convert_error(text).find("not an ONNX model"), std::string::npos);
  const std::string empty = temp_path("empty.onnx");
  std::ofstream{empty};
  EXPECT_NE(convert_error(empty).find("not an ONNX model"), std::string::npos);
  EXPECT_NE(convert_error("/nonexistent.onnx").find("cannot open"),
            std::string::npos);
}

}  // namespace
}  // namespace spruce::converters

namespace spruce::converters {
namespace {

// x: float [2] in, y out, initializer c = [1, 2]; `edit` adds the nodes.
// Returns the .onnx file's path.
template <class Edit>
std::string model_with(Edit edit, const std::string& name = "edited.onnx") {
  onnx::ModelProto model = new_model(13);
  auto* g = model.mutable_graph();
  declare_float(g->add_input(), "x", {2});
  g->add_output()->set_name("y");
  auto* c = g->add_initializer();
  c->set_name("c");
  c->set_data_type(onnx::TensorProto::FLOAT);
  c->add_dims(2);
  c->add_float_data(1);
  c->add_float_data(2);
  edit(g);
  return write_onnx(model, name);
}

// Malformed graphs a hostile or broken exporter could produce: each is an
// error naming the node, never a crash.
TEST(OnnxImport, MalformedNodesAreErrors) {
  const std::string no_output = model_with([](onnx::GraphProto* g) {
    auto* n = g->add_node();
    n->set_op_type("Relu");
    n->set_name("r");
    n->add_input("x");
  });
  EXPECT_NE(convert_error(no_output).find("Relu node 'r': has no output"),
            std::string::npos);
  const std::string one_input_mul = model_with([](onnx::GraphProto* g) {
    auto* n = g->add_node();
    n->set_op_type("Mul");
    n->set_name("m");
    n->add_input("c");
    n->add_output("y");
  });
  EXPECT_NE(convert_error(one_input_mul).find("Mul node 'm': needs 2 inputs"),
            std::string::npos);
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
  EXPECT_NE(convert_error(relu_no_input).find("needs 1 input"),
            std::string::npos);
}

// Two conversions give the same nodes, attributes, weights and shapes.
void expect_same_graph(const ModelDef& folded, const ModelDef& unfolded) {
  ASSERT_EQ(unfolded.nodes.size(), folded.nodes.size());
  for (size_t i = 0; i < folded.nodes.size(); ++i) {
    const NodeDef& a = folded.nodes[i];
    const NodeDef& b = unfolded.nodes[i];
    EXPECT_EQ(b.op, a.op) << i;
    EXPECT_TRUE(b.attrs == a.attrs) << i;
    ASSERT_EQ(b.weights.size(), a.weights.size()) << i;
    for (size_t k = 0; k < a.weights.size(); ++k) {
      const WeightDef& wa = folded.weights[a.weights[k]];
      const WeightDef& wb = unfolded.weights[b.weights[k]];
      EXPECT_EQ(wb.shape, wa.shape) << wa.name;
      EXPECT_EQ(wb.format, wa.format) << wa.name;
      EXPECT_EQ(wb.dense, wa.dense) << wa.name;
      EXPECT_EQ(wb.csr.data().values, wa.csr.data().values) << wa.name;
    }
    for (size_t k = 0; k < a.outputs.size(); ++k) {
      if (a.outputs[k] == kNoValue) continue;
      EXPECT_EQ(unfolded.values[b.outputs[k]].shape,
                folded.values[a.outputs[k]].shape);
    }
  }
  EXPECT_EQ(unfolded.weights.size(), folded.weights.size());
}

// PyTorch's export without constant folding builds recurrent layers'
// weights from initializers with Slice, Concat and Unsqueeze: the runtime's
// own ops fold them at conversion, to the graph the folded export gives.
TEST(OnnxImport, ConstantFoldingOnOrOffConvertsToTheSameGraph) {
  const std::pair<const char*, const char*> exports[] = {
      {"lstm_pruned90_unfolded/model_folded.onnx",
       "lstm_pruned90_unfolded/model.onnx"},
      {"gru_pruned90/model.onnx", "gru_pruned90/model_unfolded.onnx"},
      {"rnn_relu_pruned90/model.onnx", "rnn_relu_pruned90/model_unfolded.onnx"},
  };
  for (const auto& [folded_file, unfolded_file] : exports) {
    SCOPED_TRACE(unfolded_file);
    expect_same_graph(import_onnx(fixture(folded_file), {}, nullptr),
                      import_onnx(fixture(unfolded_file), {}, nullptr));
  }
}

// x · sigmoid(x) (SiLU) and x · hardsigmoid(x) (HardSwish below opset 14)
// after a Linear become its epilogue activation, as does a Sigmoid alone;
// the fused model computes what the ops did. With x read by a third node
// nothing fuses.
TEST(OnnxImport, GatedActivationsFuseIntoTheProducer) {
  struct Case {
    const char* gate;  // "" for a Sigmoid alone
    bool extra_reader;
    kernels::Activation fused;
  };
  const Case cases[] = {
      {"Sigmoid", false, kernels::Activation::kSilu},
      {"HardSigmoid", false, kernels::Activation::kHardSwish},
      {"", false, kernels::Activation::kSigmoid},
      {"Sigmoid", true, kernels::Activation::kNone},
  };
  std::vector<float> w(16);
  for (size_t k = 0; k < w.size(); ++k) w[k] = 0.5f * std::sin(float(k));
  const std::vector<float> x = {-4.0f, -1.0f, 0.5f, 3.0f,
                                1.0f,  -2.0f, 5.0f, 0.0f};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.gate) + (c.extra_reader ? " read twice" : ""));
    onnx::ModelProto model = new_model(13);
    auto* g = model.mutable_graph();
    declare_float(g->add_input(), "x", {2, 4});
    g->add_output()->set_name("y");
    auto* wt = g->add_initializer();
    wt->set_name("w");
    wt->set_data_type(onnx::TensorProto::FLOAT);
    wt->add_dims(4);
    wt->add_dims(4);
    for (float v : w) wt->add_float_data(v);
    add_node(g, "MatMul", {"x", "w"}, "h");
    if (*c.gate == '\0') {
      add_node(g, "Sigmoid", {"h"}, "y");
    } else {
      auto* gate = add_node(g, c.gate, {"h"}, "s");
      if (std::string(c.gate) == "HardSigmoid") {
        auto* alpha = gate->add_attribute();
        alpha->set_name("alpha");
        alpha->set_type(onnx::AttributeProto::FLOAT);
        alpha->set_f(1.0f / 6.0f);
      }
      add_node(g, "Mul", {"h", "s"}, c.extra_reader ? "m" : "y");
      if (c.extra_reader) add_node(g, "Add", {"m", "h"}, "y");
    }
    const std::string onnx_path = write_onnx(model, "gated.onnx");
    const ModelDef def = import_onnx(onnx_path, {}, nullptr);
    EXPECT_EQ(def.nodes[0].op, OpKind::kLinear);
    EXPECT_EQ(activation_of(def.nodes[0].attrs), c.fused);
    EXPECT_EQ(def.nodes.size(), c.extra_reader ? 4u : 1u);
    const std::string path = temp_path("gated.spruce");
    convert_onnx_file(onnx_path, path, {});
    const std::vector<Tensor> out =
        Engine::load(path).run({{"x", x.data(), {2, 4}}});
    ASSERT_EQ(out[0].shape(), (Shape{2, 4}));
    for (size_t r = 0; r < 2; ++r) {
      for (size_t j = 0; j < 4; ++j) {
        double h = 0;
        for (size_t k = 0; k < 4; ++k) h += x[r * 4 + k] * w[k * 4 + j];
        const double sig = 1.0 / (1.0 + std::exp(-h));
        const double hard = std::min(std::max(h / 6.0 + 0.5, 0.0), 1.0);
        const double want = *c.gate == '\0' ? sig
                            : std::string(c.gate) == "Sigmoid"
                                ? h * sig + (c.extra_reader ? h : 0.0)
                                : h * hard;
        EXPECT_NEAR(out[0].data()[r * 4 + j], want,
                    1e-5 + 1e-5 * std::abs(want))
            << r << ", " << j;
      }
    }
  }
}

// A residual block, h = Relu(Conv1(x)); y = Relu(Add(BN(Conv2(h)), x)) in
// either operand order: the Add and the Relu fuse into Conv2, which reads
// x as its residual. Not where the other operand is made after Conv2, where
// Conv2's output is read again, or where a BatchNormalization follows the
// Add (its scale must not reach the residual). Each runs like the same
// graph with the Add kept (Conv2's output also an output of the model).
TEST(OnnxImport, ResidualAddFusesIntoTheConvBeforeIt) {
  enum class Form {
    kConvFirst,
    kConvSecond,
    kLateOperand,
    kReadTwice,
    kBnAfter
  };
  const int64_t c = 3, h = 6, w = 5;
  std::vector<float> x(static_cast<size_t>(c * h * w));
  for (size_t k = 0; k < x.size(); ++k) x[k] = 1.5f * std::sin(0.7f * k);
  auto build = [&](Form form, bool keep_add) {
    onnx::ModelProto model = new_model(13);
    auto* g = model.mutable_graph();
    declare_float(g->add_input(), "x", {1, c, h, w});
    g->add_output()->set_name("y");
    if (keep_add) g->add_output()->set_name("c2_copy");
    auto initializer = [&](const std::string& name,
                           const std::vector<int64_t>& dims, float scale) {
      std::vector<float> v(static_cast<size_t>(element_count(dims)));
      for (size_t k = 0; k < v.size(); ++k) {
        v[k] = scale * std::cos(1.3f * k + name.size());
      }
      add_initializer(g, name, dims, v);
    };
    initializer("w1", {c, c, 3, 3}, 0.4f);
    initializer("w2", {c, c, 3, 3}, 0.4f);
    initializer("bn_scale", {c}, 1.0f);
    initializer("bn_bias", {c}, 0.5f);
    initializer("bn_mean", {c}, 0.2f);
    add_initializer(g, "bn_var", {c}, {0.5f, 1.5f, 2.5f});
    auto conv = [&](const std::string& in, const char* weight,
                    const std::string& out) {
      auto* n = add_node(g, "Conv", {in, weight}, out);
      auto* pads = n->add_attribute();
      pads->set_name("pads");
      pads->set_type(onnx::AttributeProto::INTS);
      for (int k = 0; k < 4; ++k) pads->add_ints(1);
    };
    const std::vector<std::string> bn_inputs = {"bn_scale", "bn_bias",
                                                "bn_mean", "bn_var"};
    auto bn = [&](const std::string& in, const std::string& out) {
      std::vector<std::string> inputs = {in};
      inputs.insert(inputs.end(), bn_inputs.begin(), bn_inputs.end());
      add_node(g, "BatchNormalization", inputs, out);
    };
    conv("x", "w1", "c1");
    add_node(g, "Relu", {"c1"}, "h");
    conv("h", "w2", "c2");
    const std::string conv_out = form == Form::kBnAfter ? "c2" : "n2";
    if (form != Form::kBnAfter) bn("c2", "n2");
    std::string r = "x";
    if (form == Form::kLateOperand) {
      add_node(g, "Sigmoid", {"x"}, "late");
      r = "late";
    }
    if (keep_add) add_node(g, "Identity", {conv_out}, "c2_copy");
    if (form == Form::kConvSecond) {
      add_node(g, "Add", {r, conv_out}, "s");
    } else {
      add_node(g, "Add", {conv_out, r}, "s");
    }
    if (form == Form::kReadTwice) {
      add_node(g, "Mul", {"s", conv_out}, "m");
      add_node(g, "Relu", {"m"}, "y");
    } else if (form == Form::kBnAfter) {
      bn("s", "y");
    } else {
      add_node(g, "Relu", {"s"}, "y");
    }
    return write_onnx(model, keep_add ? "residual_kept.onnx" : "residual.onnx");
  };
  const struct {
    Form form;
    const char* name;
    bool fuses;
  } forms[] = {{Form::kConvFirst, "Add(conv, x)", true},
               {Form::kConvSecond, "Add(x, conv)", true},
               {Form::kLateOperand, "operand made after the conv", false},
               {Form::kReadTwice, "conv output read twice", false},
               {Form::kBnAfter, "BatchNormalization after the Add", true}};
  for (const auto& f : forms) {
    SCOPED_TRACE(f.name);
    const ModelDef def = import_onnx(build(f.form, false), {}, nullptr);
    const auto add =
        std::find_if(def.nodes.begin(), def.nodes.end(),
                     [](const NodeDef& n) { return n.op == OpKind::kAdd; });
    EXPECT_EQ(add == def.nodes.end(), f.fuses);
    const NodeDef& conv2 = def.nodes[1];
    ASSERT_EQ(conv2.op, OpKind::kConv);
    EXPECT_EQ(conv2.inputs.size(), f.fuses ? 2u : 1u);
    if (f.form == Form::kConvFirst || f.form == Form::kConvSecond) {
      EXPECT_EQ(conv2.inputs[1], def.inputs[0]);  // x
      EXPECT_EQ(activation_of(conv2.attrs), kernels::Activation::kRelu);
      EXPECT_EQ(def.nodes.size(), 2u);
    }
    const std::string fused = temp_path("residual.spruce");
    const std::string kept = temp_path("residual_kept.spruce");
    convert_onnx_file(build(f.form, false), fused, {});
    convert_onnx_file(build(f.form, true), kept, {});
    for (int threads : {1, 2}) {
      EngineOptions options;
      options.num_threads = threads;
      const Shape xs = {1, c, h, w};
      const auto got = Engine::load(fused, options).run({{"x", x.data(), xs}});
      const auto want = Engine::load(kept, options).run({{"x", x.data(), xs}});
      ASSERT_EQ(got[0].size(), want[0].size());
      for (size_t k = 0; k < want[0].size(); ++k) {
        const float e = want[0].data()[k];
        ASSERT_NEAR(got[0].data()[k], e, 1e-5f + 1e-5f * std::abs(e))
            << "at " << k << " on " << threads << " threads";
      }
    }
  }
}

// Gather of activations along an axis other than 0, as ViT takes its class
// token (x[:, 0]: a scalar index drops the axis), and with a vector of
// indices, one negative.
TEST(OnnxImport, GatherOfActivationsAlongAnyAxis) {
  auto model_for = [](const std::string& file, bool scalar) {
    onnx::ModelProto model = new_model(13);
    auto* g = model.mutable_graph();
    declare_float(g->add_input(), "x", {2, 3, 4});
    g->add_output()->set_name("y");
    auto* ids = g->add_initializer();
    ids->set_name("ids");
    ids->set_data_type(onnx::TensorProto::INT64);
    if (scalar) {
      ids->add_int64_data(0);
    } else {
      ids->add_dims(2);
      ids->add_int64_data(-1);
      ids->add_int64_data(1);
    }
    auto* n = g->add_node();
    n->set_op_type("Gather");
    n->add_input("x");
    n->add_input("ids");
    n->add_output("y");
    auto* axis = n->add_attribute();
    axis->set_name("axis");
    axis->set_type(onnx::AttributeProto::INT);
    axis->set_i(1);
    return write_onnx(model, file);
  };
  std::vector<float> x(24);
  for (size_t k = 0; k < x.size(); ++k) x[k] = static_cast<float>(k);
  for (const bool scalar : {true, false}) {
    const std::string model = temp_path("gather_axis.spruce");
    convert_onnx_file(model_for("gather_axis.onnx", scalar), model, {});
    const Engine engine = Engine::load(model);
    const std::vector<Tensor> out = engine.run({{"x", x.data(), {2, 3, 4}}});
    ASSERT_EQ(out.size(), 1u);
    // x[n, i, c] = 12 n + 4 i + c.
    if (scalar) {
      ASSERT_EQ(out[0].shape(), (Shape{2, 4}));
      for (int n = 0; n < 2; ++n) {
        for (int c = 0; c < 4; ++c) {
          EXPECT_EQ(out[0].data()[n * 4 + c], 12 * n + c);
        }
      }
    } else {
      ASSERT_EQ(out[0].shape(), (Shape{2, 2, 4}));
      for (int n = 0; n < 2; ++n) {
        for (int c = 0; c < 4; ++c) {
          EXPECT_EQ(out[0].data()[(n * 2 + 0) * 4 + c], 12 * n + 8 + c);
          EXPECT_EQ(out[0].data()[(n * 2 + 1) * 4 + c], 12 * n + 4 + c);
        }
      }
    }
  }
}

// An op spruce has no rule for is refused as such, before anything about its
// inputs (a GRU with absent optional inputs was once blamed on those).
TEST(OnnxImport, UnsupportedOpIsTheCauseGivenBeforeItsInputs) {
  // NonMaxSuppression's thresholds are optional: empty here.
  const std::string nms = model_with([](onnx::GraphProto* g) {
    auto* n = g->add_node();
    n->set_op_type("NonMaxSuppression");
    n->set_name("nms");
    for (const char* in : {"x", "c", "", "", ""}) n->add_input(in);
    n->add_output("y");
  });
  const std::string e = convert_error(nms);
  EXPECT_NE(
      e.find(
          "NonMaxSuppression node 'nms': unsupported op 'NonMaxSuppression'"),
      std::string::npos)
      << e;
}

// What `spruce inspect` calls supported is what has an import rule.
TEST(OnnxImport, SupportedOpsAreTheRegisteredRules) {
  const std::vector<std::string>& types = imported_op_types();
  EXPECT_TRUE(std::is_sorted(types.begin(), types.end()));
  for (const char* op : {"Conv", "LSTM", "GRU", "RNN", "Gemm", "Squeeze",
                         "Shape", "Gelu", "Resize"}) {
    EXPECT_NE(import_rule(op), nullptr) << op;
    EXPECT_NE(std::find(types.begin(), types.end(), op), types.end()) << op;
  }
  EXPECT_EQ(import_rule("NonMaxSuppression"), nullptr);
  EXPECT_TRUE(import_rule("LSTM")->unnamed_first_output());
  EXPECT_FALSE(import_rule("Relu")->empty_inputs());
}

// An output keeps its declared name whatever it aliases: an Identity of the
// input (ONNX's test_identity), or a second name for the same value.
TEST(OnnxImport, OutputsKeepTheirNamesWhenTheyAliasAnotherValue) {
  const std::string identity = model_with([](onnx::GraphProto* g) {
    auto* n = g->add_node();
    n->set_op_type("Identity");
    n->set_name("id");
    n->add_input("x");
    n->add_output("y");
  });
  const std::string twice = model_with([](onnx::GraphProto* g) {
    auto* n = g->add_node();
    n->set_op_type("Relu");
    n->set_name("r");
    n->add_input("x");
    n->add_output("y");
    auto* id = g->add_node();
    id->set_op_type("Identity");
    id->set_name("id");
    id->add_input("y");
    id->add_output("z");
    g->add_output()->set_name("z");
  });
  for (const std::string& model : {identity, twice}) {
    const std::string out = spruce::testing::temp_path("aliased.spruce");
    convert_onnx_file(model, out, {});
    const Engine engine = Engine::load(out);
    const float x[] = {-1.5f, 2.5f};
    const std::vector<Tensor> y = engine.run({{"x", x, {2}}});
    ASSERT_GE(engine.outputs().size(), 1u);
    EXPECT_EQ(engine.outputs()[0].name, "y");
    const bool relu = model == twice;
    EXPECT_EQ(y[0].data()[0], relu ? 0.0f : -1.5f);
    EXPECT_EQ(y[0].data()[1], 2.5f);
    if (relu) {
      ASSERT_EQ(engine.outputs().size(), 2u);
      EXPECT_EQ(engine.outputs()[1].name, "z");
      EXPECT_EQ(y[1].data()[0], 0.0f);
      EXPECT_EQ(y[1].data()[1], 2.5f);
    }
  }
}

// Cast to a type spruce does not hold is refused by name rather than run
// as a no-op that would skip the rounding: float16, bfloat16, double.
TEST(OnnxImport, CastsToTypesSpruceDoesNotHoldAreRefused) {
  const std::pair<int, const char*> types[] = {
      {onnx::TensorProto::FLOAT16, "float16"},
      {onnx::TensorProto::BFLOAT16, "bfloat16"},
      {onnx::TensorProto::DOUBLE, "double"}};
  for (const auto& [to, name] : types) {
    const std::string path = model_with([to = to](onnx::GraphProto* g) {
      auto* n = g->add_node();
      n->set_op_type("Cast");
      n->set_name("cast");
      n->add_input("x");
      n->add_output("y");
      auto* a = n->add_attribute();
      a->set_name("to");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(to);
    });
    const std::string error = convert_error(path);
    EXPECT_NE(error.find("Cast node 'cast': Cast to " + std::string(name)),
              std::string::npos)
        << error;
  }
}

}  // namespace
}  // namespace spruce::converters

namespace spruce::converters {
namespace {

// A one-layer model (X [5, 2, 3], hidden 2, output Y_h; an LSTM, or `op`
// GRU or RNN) that `edit` changes into something spruce must refuse; returns
// the conversion error.
template <class Edit>
std::string lstm_error(Edit edit, const std::string& op = "LSTM") {
  const int64_t gates = op == "LSTM" ? 4 : op == "GRU" ? 3 : 1;
  onnx::ModelProto model = new_model(14);
  auto* g = model.mutable_graph();
  declare_float(g->add_input(), "X", {5, 2, 3});
  g->add_output()->set_name("Y_h");
  auto add_init = [&](const char* name, const std::vector<int64_t>& dims) {
    std::vector<float> v(static_cast<size_t>(element_count(dims)));
    for (size_t k = 0; k < v.size(); ++k) v[k] = 0.1f * float(k % 7);
    add_initializer(g, name, dims, v);
  };
  add_init("W", {1, 2 * gates, 3});
  add_init("R", {1, 2 * gates, 2});
  add_init("P", {1, 6});
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name("lstm");
  for (const char* in : {"X", "W", "R"}) n->add_input(in);
  n->add_output("");
  n->add_output("Y_h");
  auto* hidden = n->add_attribute();
  hidden->set_name("hidden_size");
  hidden->set_type(onnx::AttributeProto::INT);
  hidden->set_i(2);
  edit(g, n);
  return convert_error(write_onnx(model, "lstm_refused.onnx"));
}

// What the runtime cannot compute is refused at conversion, naming the node
// and the feature, rather than converted into something that runs wrong.
TEST(OnnxImport, UnsupportedLstmFeaturesAreRefusedByName) {
  EXPECT_EQ(lstm_error([](onnx::GraphProto*, onnx::NodeProto*) {}), "")
      << "the unedited model must convert";
  auto has = [](const std::string& error, const char* what) {
    return error.find("LSTM node 'lstm'") != std::string::npos &&
           error.find(what) != std::string::npos;
  };
  EXPECT_TRUE(has(lstm_error([](onnx::GraphProto*, onnx::NodeProto* n) {
                    for (const char* in : {"", "", "", "", "P"})
                      n->add_input(in);
                  }),
                  "peephole"));
  EXPECT_TRUE(has(lstm_error([](onnx::GraphProto*, onnx::NodeProto* n) {
                    auto* a = n->add_attribute();
                    a->set_name("clip");
                    a->set_type(onnx::AttributeProto::FLOAT);
                    a->set_f(3.0f);
                  }),
                  "clip"));
  EXPECT_TRUE(has(lstm_error([](onnx::GraphProto*, onnx::NodeProto* n) {
                    auto* a = n->add_attribute();
                    a->set_name("input_forget");
                    a->set_type(onnx::AttributeProto::INT);
                    a->set_i(1);
                  }),
                  "input_forget"));
  EXPECT_TRUE(has(lstm_error([](onnx::GraphProto*, onnx::NodeProto* n) {
                    auto* a = n->add_attribute();
                    a->set_name("activations");
                    a->set_type(onnx::AttributeProto::STRINGS);
                    for (const char* f : {"Sigmoid", "Relu", "Tanh"})
                      a->add_strings(f);
                  }),
                  "activation 'Relu'"));
  EXPECT_TRUE(has(lstm_error([](onnx::GraphProto* g, onnx::NodeProto* n) {
                    auto* lens = g->add_initializer();
                    lens->set_name("lens");
                    lens->set_data_type(onnx::TensorProto::INT64);
                    lens->add_dims(2);
                    lens->add_int64_data(5);
                    lens->add_int64_data(3);
                    for (const char* in : {"", "lens"}) n->add_input(in);
                  }),
                  "sequence_lens"));
  {
    const std::string error =
        lstm_error([](onnx::GraphProto* g, onnx::NodeProto* n) {
          // A transpose the LSTM cannot fold runs as a node; its
          // [5, 3, 2] result does not fit the weights.
          auto* t = g->add_node();
          t->set_op_type("Transpose");
          t->set_name("t");
          t->add_input("X");
          t->add_output("Xt");
          auto* perm = t->add_attribute();
          perm->set_name("perm");
          perm->set_type(onnx::AttributeProto::INTS);
          for (int64_t p : {0, 2, 1}) perm->add_ints(p);
          g->mutable_node()->SwapElements(0, 1);
          n = g->mutable_node(1);
          n->set_input(0, "Xt");
        });
    EXPECT_TRUE(has(error, "input X [5, 3, 2] does not match W")) << error;
  }
}

// The same for GRU and RNN: their options spruce does not run are named.
TEST(OnnxImport, UnsupportedGruAndRnnFeaturesAreRefusedByName) {
  auto activations = [](std::vector<const char*> names) {
    return [names](onnx::GraphProto*, onnx::NodeProto* n) {
      auto* a = n->add_attribute();
      a->set_name("activations");
      a->set_type(onnx::AttributeProto::STRINGS);
      for (const char* f : names) a->add_strings(f);
    };
  };
  auto bidirectional = [](onnx::GraphProto* g, onnx::NodeProto* n) {
    auto* a = n->add_attribute();
    a->set_name("direction");
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s("bidirectional");
    // W and R for two directions.
    for (int k = 0; k < 2; ++k) {
      onnx::TensorProto* t = g->mutable_initializer(k);
      const int64_t count = t->float_data_size();
      t->set_dims(0, 2);
      for (int64_t e = 0; e < count; ++e) t->add_float_data(t->float_data(e));
    }
  };
  const std::pair<std::string, std::string> cases[] = {
      {"GRU", ""},
      {"RNN", ""},
  };
  for (const auto& [op, want] : cases) {
    EXPECT_EQ(lstm_error([](onnx::GraphProto*, onnx::NodeProto*) {}, op), want)
        << op << " unedited must convert";
  }
  const std::string elu = lstm_error(activations({"Elu"}), "RNN");
  EXPECT_NE(elu.find("RNN node 'lstm': activation 'Elu' is not supported "
                     "(Tanh, Relu or Sigmoid)"),
            std::string::npos)
      << elu;
  EXPECT_EQ(lstm_error(activations({"Relu"}), "RNN"), "");
  const std::string mixed = lstm_error(
      [&](onnx::GraphProto* g, onnx::NodeProto* n) {
        bidirectional(g, n);
        activations({"Relu", "Tanh"})(g, n);
      },
      "RNN");
  EXPECT_NE(mixed.find("activations differ between directions"),
            std::string::npos)
      << mixed;
  const std::string gru_relu = lstm_error(activations({"Relu", "Tanh"}), "GRU");
  EXPECT_NE(gru_relu.find("GRU node 'lstm': activation 'Relu' is not "
                          "supported (only Sigmoid, Tanh)"),
            std::string::npos)
      << gru_relu;
  const std::string too_many =
      lstm_error(activations({"Tanh", "Tanh", "Tanh"}), "RNN");
  EXPECT_NE(too_many.find("'activations' has 3 entries, expected 1 per "
                          "direction"),
            std::string::npos)
      << too_many;
}

}  // namespace
}  // namespace spruce::converters

namespace spruce::converters {
namespace {

// Inputs the ONNX fuzzer found a bug with (tests/fixtures/fuzz_regressions/
// onnx): each must be refused with its cause, named (or, marked "", convert
// and load); under the sanitizer build (tools/setup.sh --checks) any
// undefined behaviour on the way fails the test too. A new finding is added
// here with its expected outcome.
TEST(FuzzRegressions, OnnxInputsAreRefusedWithTheirCause) {
  const std::map<std::string, std::string> expected = {
      {"gelu_pattern_missing_inputs.onnx",
       "Unsqueeze node '/layers.0/attention/Unsqueeze_5': input "
       "'/layers.0/attention/Gather_5_output_0' is not computed by any "
       "earlier node"},
      {"lstm_no_output_used.onnx",
       "LSTM node '/lstm/LSTM': none of its outputs is used"},
      {"shape_without_input.onnx",
       "Shape node '/layers.0/self_attn/Shape_2': needs 1 input"},
      {"reshape_constant_size_overflow.onnx",
       "Reshape node '/lstm/Reshape': sizes multiply past 2^62"},
      // The dynamic sizes cancel, so the known ones cannot divide 280.
      {"reshape_size_overflow_1.onnx",
       "Reshape node '/lstm/Reshape': cannot reshape [7, ?, 2, 20] into "
       "[36026726059145728, 0, ?]"},
      {"reshape_size_overflow_2.onnx",
       "Reshape node '/lstm/Reshape_1': sizes multiply past 2^62"},
      // Sizes times (plus) a constant past int64: no sizes, whether the
      // shape arithmetic or the folded float product computes them.
      {"shape_value_mul_overflow.onnx",
       "Reshape node '/Reshape': the target shape 't' holds values that are "
       "not int64 sizes"},
      {"shape_value_add_overflow.onnx",
       "Reshape node '/Reshape': the target shape 't' holds values that are "
       "not int64 sizes"},
  };
  const std::filesystem::path dir =
      std::filesystem::path(SPRUCE_FIXTURES_DIR) / "fuzz_regressions" / "onnx";
  size_t cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++cases;
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    const auto it = expected.find(name);
    ASSERT_NE(it, expected.end()) << "a finding with no expected outcome";
    std::string error;
    try {
      const std::string out =
          testing::temp_path(entry.path().stem().string() + ".spruce");
      convert_onnx_file(entry.path().string(), out, {});
      const Engine engine = Engine::load(out);
      EXPECT_FALSE(engine.outputs().empty());
    } catch (const Error& e) {
      error = e.what();
    }
    if (it->second.empty()) {
      EXPECT_EQ(error, "");
    } else {
      EXPECT_NE(error.find(it->second), std::string::npos)
          << "refused for: " << error;
    }
  }
  EXPECT_EQ(cases, expected.size());
}

}  // namespace
}  // namespace spruce::converters
