// .spruce writer/reader round trip, and every kind of corrupt or hostile
// file: each must give a spruce::Error naming the problem, never a crash.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "file_format.h"
#include "fuzz/load_and_run.h"
#include "linear_model.h"
#include "spruce/converters/model_def.h"
#include "spruce/spruce.h"
#include "spruce_generated.h"
#include "test_util.h"

namespace spruce {
namespace {

using converters::ModelDef;
using converters::NodeDef;
using converters::WeightDef;
using converters::WeightFormat;
using testing::node;
using testing::temp_path;

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// Recomputes both checksums, so that a deliberately hostile file gets past
// them and exercises the structural checks behind.
void refresh_checksums(std::vector<uint8_t>* bytes) {
  format::FileHeader h;
  std::memcpy(&h, bytes->data(), sizeof(h));
  h.metadata_checksum =
      format::checksum(bytes->data() + h.metadata_offset, h.metadata_bytes);
  h.blobs_checksum =
      format::checksum(bytes->data() + h.blobs_offset, h.blobs_bytes);
  std::memcpy(bytes->data(), &h, sizeof(h));
}

WeightDef weight(const std::string& name, Shape shape) {
  WeightDef w;
  w.name = name;
  w.shape = std::move(shape);
  return w;
}

// x[?, 6] -> Linear(W1 [5x6] CSR, b1, relu) -> Relu -> Flatten -> Linear(W2
// [3x5] dense)
struct SmallModel {
  std::vector<float> w1, b1, w2;
  ModelDef def;

  SmallModel() {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1, 1);
    w1.resize(30);
    for (size_t i = 0; i < w1.size(); ++i) w1[i] = i % 3 == 0 ? u(rng) : 0.0f;
    b1 = {0.1f, -0.2f, 0.3f, -0.4f, 0.5f};
    w2.resize(15);
    for (float& v : w2) v = u(rng);
    def.values = {{"x", {-1, 6}},
                  {"h", {-1, 5}},
                  {"r", {-1, 5}},
                  {"f", {-1, 5}},
                  {"y", {-1, 3}}};
    WeightDef a = weight("w1", {5, 6});
    a.format = WeightFormat::kCsr;
    a.csr = CsrMatrix::from_dense(w1.data(), 5, 6);
    WeightDef b = weight("b1", {5});
    b.dense = b1;
    WeightDef c = weight("w2", {3, 5});
    c.dense = w2;
    def.weights = {a, b, c};
    NodeDef n1 =
        node("fc1", OpKind::kLinear, 0, 1, {0, 1}, kernels::Activation::kRelu);
    NodeDef n2 = node("relu", OpKind::kRelu, 1, 2);
    NodeDef n3 = node("flatten", OpKind::kFlatten, 2, 3);
    NodeDef n4 = node("fc2", OpKind::kLinear, 3, 4, {2});
    def.nodes = {n1, n2, n3, n4};
    def.inputs = {0};
    def.outputs = {4};
    def.metadata = {{"purpose", "test"}};
  }

  std::vector<float> reference(const std::vector<float>& x,
                               size_t batch) const {
    std::vector<float> y(batch * 3);
    for (size_t b = 0; b < batch; ++b) {
      double h[5];
      for (int o = 0; o < 5; ++o) {
        double s = b1[o];
        for (int i = 0; i < 6; ++i) s += double(w1[o * 6 + i]) * x[b * 6 + i];
        h[o] = std::max(s, 0.0);
      }
      for (int o = 0; o < 3; ++o) {
        double s = 0;
        for (int i = 0; i < 5; ++i) s += double(w2[o * 5 + i]) * h[i];
        y[b * 3 + o] = static_cast<float>(s);
      }
    }
    return y;
  }
};

std::string load_error(const std::vector<uint8_t>& bytes) {
  const std::string path = temp_path("hostile.spruce");
  write_bytes(path, bytes);
  try {
    Engine::load(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelFile, RoundTripRunsLikeTheReference) {
  SmallModel m;
  const std::string path = temp_path("small.spruce");
  converters::write_model(m.def, path);
  EngineOptions threshold;
  threshold.kernel_selection =
      EngineOptions::KernelSelection::kSparsityThreshold;
  const Engine engine = Engine::load(path, threshold);
  ASSERT_EQ(engine.inputs().size(), 1u);
  EXPECT_EQ(engine.inputs()[0].shape, (Shape{-1, 6}));
  EXPECT_EQ(engine.outputs()[0].name, "y");
  EXPECT_EQ(engine.metadata().at("purpose"), "test");
  ASSERT_EQ(engine.layers().size(), 4u);
  EXPECT_EQ(engine.layers()[0].storage, "csr");
  EXPECT_EQ(engine.layers()[0].kernel_for(1)->kernel,
            "onednn");  // 67% sparse: below the crossover
  EXPECT_EQ(engine.layers()[0].index_bits, 16);
  EXPECT_EQ(engine.layers()[3].storage, "dense");
  EXPECT_EQ(engine.layers()[3].kernel_for(1)->kernel, "onednn");
  EXPECT_NEAR(engine.layers()[0].sparsity, 2.0 / 3.0, 1e-9);

  EngineOptions all_sparse = threshold;
  all_sparse.sparse_kernel_min_sparsity = 0.0;
  const Engine sparse = Engine::load(path, all_sparse);
  EXPECT_EQ(sparse.layers()[0].kernel_for(64)->kernel, "sparse-csr");
  EXPECT_EQ(sparse.layers()[0].kernel_for(1)->kernel, "sparse-csr");
  // Measured at load: whatever wins, the results are the same.
  const Engine measured = Engine::load(path);
  for (const Engine* e : {&engine, &sparse, &measured}) {
    for (size_t batch : {1, 2, 9}) {
      std::vector<float> x(batch * 6);
      for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i));
      const auto out = e->run({{"x", x.data(), {int64_t(batch), 6}}});
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0].shape(), (Shape{int64_t(batch), 3}));
      const auto ref = m.reference(x, batch);
      for (size_t i = 0; i < ref.size(); ++i)
        EXPECT_NEAR(out[0].data()[i], ref[i], 1e-5) << i;
    }
  }
}

// run() into caller-kept outputs reuses their storage: same results as the
// returning form, and the same buffers from the second call on.
TEST(ModelFile, RunIntoReusedOutputsKeepsTheirBuffers) {
  SmallModel m;
  const std::string path = temp_path("reuse.spruce");
  converters::write_model(m.def, path);
  const Engine engine = Engine::load(path);
  std::vector<float> x(3 * 6);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(float(i));
  const std::vector<Input> inputs = {{"x", x.data(), {3, 6}}};
  std::vector<Tensor> outputs;
  engine.run(inputs, &outputs);
  ASSERT_EQ(outputs.size(), 1u);
  const float* buffer = outputs[0].data();
  for (int r = 0; r < 3; ++r) {
    engine.run(inputs, &outputs);
    EXPECT_EQ(outputs[0].data(), buffer);
  }
  EXPECT_EQ(outputs[0].values(), engine.run(inputs)[0].values());
  const std::vector<float> smaller(6, 0.5f);
  engine.run({{"x", smaller.data(), {1, 6}}}, &outputs);
  EXPECT_EQ(outputs[0].shape(), (Shape{1, 3}));
  EXPECT_EQ(outputs[0].data(), buffer);  // fits: kept
}

// Each input the load fuzzer found a bug with
// (tests/fixtures/fuzz_regressions/spruce), replayed as the fuzzer runs it
// (load with checksums off, then run at small sizes), must end with the
// refusal it gets now, named; under the sanitizer builds any undefined
// behaviour on the way fails the test too. A new finding is added here
// with its expected outcome.
TEST(ModelFile, FuzzRegressionsAreRefusedWithTheirCause) {
  struct Expected {
    const char* load_error;  // "" when the file must load
    const char* run_error;   // "" when its runs must succeed
  };
  const std::map<std::string, Expected> expected = {
      {"misaligned_int64_vector.spruce",
       {"Constant node 'layers.0.norm.bias' weight 'onnx::MatMul_348' must "
        "be dense",
        ""}},
      {"reshape_sizes_overflow.spruce",
       {"Reshape node '/layers.0/attention/Reshape': sizes multiply past 2^62",
        ""}},
  };
  const std::filesystem::path dir = std::filesystem::path(SPRUCE_FIXTURES_DIR) /
                                    "fuzz_regressions" / "spruce";
  size_t cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++cases;
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    const auto it = expected.find(name);
    ASSERT_NE(it, expected.end()) << "a finding with no expected outcome";
    const fuzz::Outcome got = fuzz::load_and_run(entry.path().string());
    const std::string load = it->second.load_error;
    const std::string run = it->second.run_error;
    if (load.empty()) {
      EXPECT_TRUE(got.loaded) << got.load_error;
    } else {
      EXPECT_NE(got.load_error.find(load), std::string::npos)
          << "refused for: " << got.load_error;
    }
    if (run.empty()) {
      EXPECT_EQ(got.run_error, "");
    } else {
      EXPECT_NE(got.run_error.find(run), std::string::npos)
          << "refused for: " << got.run_error;
    }
  }
  EXPECT_EQ(cases, expected.size());
}

TEST(ModelFile, WeightBlobsAreAlignedForInPlaceUse) {
  SmallModel m;
  const auto bytes = converters::serialize_model(m.def);
  format::FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  EXPECT_EQ(h.blobs_offset % 64, 0u);
  const auto* model = format::GetModel(bytes.data() + h.metadata_offset);
  for (const auto* w : *model->weights()) {
    EXPECT_EQ(w->values()->offset() % 64, 0u) << w->name()->str();
  }
}

TEST(ModelFile, EveryTruncationIsRejected) {
  SmallModel m;
  const auto bytes = converters::serialize_model(m.def);
  for (size_t len = 0; len < bytes.size(); ++len) {
    const std::string error =
        load_error(std::vector<uint8_t>(bytes.begin(), bytes.begin() + len));
    ASSERT_FALSE(error.empty()) << "truncated to " << len << " bytes loaded";
  }
}

TEST(ModelFile, EverySingleBitFlipIsRejected) {
  SmallModel m;
  const auto bytes = converters::serialize_model(m.def);
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto flipped = bytes;
    flipped[i] ^= static_cast<uint8_t>(1u << (i % 8));
    const std::string error = load_error(flipped);
    ASSERT_FALSE(error.empty()) << "flip at byte " << i << " loaded";
  }
}

TEST(ModelFile, CorruptFilesNameTheProblem) {
  SmallModel m;
  const auto good = converters::serialize_model(m.def);
  EXPECT_NE(load_error({}).find("file is empty"), std::string::npos);
  EXPECT_NE(load_error({'S', 'P', 'R'}).find("too short"), std::string::npos);
  const std::string text =
      "this is not a model, just some text that is long enough to have a "
      "header";
  EXPECT_NE(load_error(std::vector<uint8_t>(text.begin(), text.end()))
                .find("not a .spruce file"),
            std::string::npos);

  auto version = good;
  version[8] = 9;  // format_version
  EXPECT_NE(load_error(version).find("format version 9 is not supported"),
            std::string::npos);

  auto flipped_blob = good;
  flipped_blob.back() ^= 1;
  EXPECT_NE(load_error(flipped_blob).find("checksum mismatch"),
            std::string::npos);

  auto longer = good;
  longer.push_back(0);
  EXPECT_NE(load_error(longer).find("truncated or extended"),
            std::string::npos);
}

TEST(ModelFile, HostileContentWithValidChecksumsIsRejected) {
  {  // column index beyond the declared columns
    SmallModel m;
    m.def.weights[0].shape = {5, 2};
    m.def.values[0].shape = {-1, 2};
    const std::string e = load_error(converters::serialize_model(m.def));
    EXPECT_NE(e.find("weight 'w1'"), std::string::npos) << e;
    EXPECT_NE(e.find("column index"), std::string::npos) << e;
  }
  {  // a 2^40-element activation is refused before anything is allocated
    SmallModel m;
    m.def.values[0].shape = {int64_t{1} << 20, int64_t{1} << 20};
    const std::string e = load_error(converters::serialize_model(m.def));
    EXPECT_NE(e.find("more than"), std::string::npos) << e;
  }
  {  // a huge weight shape with a small blob
    SmallModel m;
    m.def.weights[2].shape = {int64_t{1} << 30, int64_t{1} << 30};
    const std::string e = load_error(converters::serialize_model(m.def));
    EXPECT_NE(e.find("weight 'w2' values is 60 bytes"), std::string::npos) << e;
  }
  {  // dimension product overflowing 64 bits
    SmallModel m;
    m.def.weights[2].shape = {int64_t{1} << 62, int64_t{1} << 62};
    const std::string e = load_error(converters::serialize_model(m.def));
    EXPECT_NE(e.find("too large"), std::string::npos) << e;
  }
  {  // a node pointing past the tensor table
    SmallModel m;
    m.def.nodes[1].inputs = {99};
    const std::string e = load_error(converters::serialize_model(m.def));
    EXPECT_NE(e.find("refers to tensor #99"), std::string::npos) << e;
  }
  {  // nodes out of order
    SmallModel m;
    std::swap(m.def.nodes[0], m.def.nodes[1]);
    const std::string e = load_error(converters::serialize_model(m.def));
    EXPECT_NE(e.find("before it is computed"), std::string::npos) << e;
  }
  {  // an op this reader does not know
    SmallModel m;
    m.def.nodes[1].op = static_cast<OpKind>(77);
    const std::string e = load_error(converters::serialize_model(m.def));
    EXPECT_NE(e.find("unknown op type 77"), std::string::npos) << e;
  }
  {  // an attribute of the wrong kind: the node and the attribute named
    SmallModel m;
    m.def.nodes[2].attrs.set_float("axis", 1.5f);
    const std::string e = load_error(converters::serialize_model(m.def));
    EXPECT_NE(e.find("Flatten node 'flatten'"), std::string::npos) << e;
    EXPECT_NE(e.find("attribute 'axis' must be one integer"),
              std::string::npos)
        << e;
  }
  {  // an activation code no spruce wrote
    SmallModel m;
    m.def.nodes[0].attrs.set_int("activation", 9);
    const std::string e = load_error(converters::serialize_model(m.def));
    EXPECT_NE(e.find("Linear node 'fc1'"), std::string::npos) << e;
    EXPECT_NE(e.find("unknown activation 9"), std::string::npos) << e;
  }
  {  // attribute values far past any real model's
    SmallModel m;
    m.def.nodes[2].attrs.set_int("axis", int64_t{1} << 50);
    const std::string e = load_error(converters::serialize_model(m.def));
    EXPECT_NE(e.find("attribute 'axis' has value"), std::string::npos) << e;
  }
  {  // declared shapes that disagree with the op
    SmallModel m;
    m.def.values[1].shape = {-1, 4};
    const std::string e = load_error(converters::serialize_model(m.def));
    EXPECT_NE(e.find("computes shape"), std::string::npos) << e;
  }
  {  // decreasing row pointers (first blob of the file is w1's row_ptr)
    SmallModel m;
    auto bytes = converters::serialize_model(m.def);
    format::FileHeader h;
    std::memcpy(&h, bytes.data(), sizeof(h));
    const uint32_t big = 1000;
    std::memcpy(bytes.data() + h.blobs_offset + 4, &big, 4);
    refresh_checksums(&bytes);
    const std::string e = load_error(bytes);
    EXPECT_NE(e.find("row pointers decrease"), std::string::npos) << e;
  }
}

TEST(ModelFile, BlobOutsideTheFileIsRejected) {
  namespace fb = spruce::format;
  flatbuffers::FlatBufferBuilder fbb;
  const fb::BlobRef far(uint64_t{1} << 40, 16);
  const auto w = fb::CreateWeight(
      fbb, fbb.CreateString("w"), fb::DataType::Float32,
      fbb.CreateVector(std::vector<int64_t>{2, 2}), fb::Layout::Dense, &far);
  const auto v = fb::CreateValue(fbb, fbb.CreateString("x"),
                                 fbb.CreateVector(std::vector<int64_t>{1, 2}));
  const auto model =
      fb::CreateModel(fbb, 0, fbb.CreateVector(std::vector{v}),
                      fbb.CreateVector(std::vector{w}), 0,
                      fbb.CreateVector(std::vector<uint32_t>{0}),
                      fbb.CreateVector(std::vector<uint32_t>{0}));
  fb::FinishModelBuffer(fbb, model);
  std::vector<uint8_t> bytes(64 + format::align_up(fbb.GetSize(), 64), 0);
  format::FileHeader h{};
  std::memcpy(h.magic, format::kMagic, 8);
  h.format_version = format::kFormatVersion;
  h.header_bytes = 64;
  h.metadata_offset = 64;
  h.metadata_bytes = fbb.GetSize();
  h.blobs_offset = bytes.size();
  std::memcpy(bytes.data(), &h, sizeof(h));
  std::memcpy(bytes.data() + 64, fbb.GetBufferPointer(), fbb.GetSize());
  refresh_checksums(&bytes);
  const std::string e = load_error(bytes);
  EXPECT_NE(e.find("lies outside the file"), std::string::npos) << e;
}

TEST(Engine, BadInputsGiveClearErrorsAndTheEngineStaysUsable) {
  SmallModel m;
  const std::string path = temp_path("inputs.spruce");
  converters::write_model(m.def, path);
  const Engine engine = Engine::load(path);
  std::vector<float> x(12, 0.5f);
  auto message = [&](const std::vector<Input>& in) -> std::string {
    try {
      engine.run(in);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message({{"nope", x.data(), {2, 6}}}).find("unknown input 'nope'"),
            std::string::npos);
  EXPECT_NE(message({}).find("missing input 'x'"), std::string::npos);
  EXPECT_NE(message({{"x", x.data(), {2, 5}}})
                .find("has shape [2, 5], the model expects [?, 6]"),
            std::string::npos);
  EXPECT_NE(message({{"x", x.data(), {12}}}).find("has shape [12]"),
            std::string::npos);
  EXPECT_NE(message({{"x", x.data(), {0, 6}}}).find("has shape [0, 6]"),
            std::string::npos);
  EXPECT_NE(message({{"x", nullptr, {2, 6}}}).find("no data"),
            std::string::npos);
  EXPECT_NE(message({{"x", x.data(), {2, 6}}, {"x", x.data(), {2, 6}}})
                .find("given twice"),
            std::string::npos);
  const auto out = engine.run({{"x", x.data(), {2, 6}}});
  const auto ref = m.reference(x, 2);
  for (size_t i = 0; i < ref.size(); ++i)
    EXPECT_NEAR(out[0].data()[i], ref[i], 1e-5);
}

TEST(Engine, MissingFileAndDirectoryAreErrors) {
  EXPECT_THROW(Engine::load("/nonexistent/model.spruce"), Error);
  EXPECT_THROW(Engine::load(std::filesystem::temp_directory_path().string()),
               Error);
}

TEST(Engine, ManyThreadsShareOneEngine) {
  SmallModel m;
  const std::string path = temp_path("threads.spruce");
  converters::write_model(m.def, path);
  EngineOptions options;
  // Exercise the threaded sparse path.
  options.kernel_selection = EngineOptions::KernelSelection::kSparsityThreshold;
  options.sparse_kernel_min_sparsity = 0.0;
  const Engine engine = Engine::load(path, options);
  std::vector<float> x(16 * 6);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(float(i));
  const auto expected = engine.run({{"x", x.data(), {16, 6}}})[0];
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const int64_t batch = 1 + (i + t) % 16;
        const auto out = engine.run({{"x", x.data(), {batch, 6}}})[0];
        for (int64_t k = 0; k < batch * 3; ++k) {
          // Tiles differ with the batch size, so summation order may too.
          if (std::abs(out.data()[k] - expected.data()[k]) > 1e-5f)
            ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace spruce
