// The spruce command line as a user runs it: exit status, one-line errors,
// outputs written where asked.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "npy.h"
#include "spruce/converters/onnx_tensor.h"
#include "spruce/error.h"
#include "test_util.h"

namespace spruce {
namespace {

using testing::fixture;
using testing::tensors_close;
using testing::temp_path;

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

Result spruce_cli(const std::string& args) {
  const std::string err_file = temp_path("stderr.txt");
  const std::string cmd =
      std::string(SPRUCE_CLI_PATH) + " " + args + " 2>" + err_file;
  Result r;
  FILE* pipe = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), pipe) != nullptr) r.out += buf.data();
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::ifstream in(err_file);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

size_t lines(const std::string& s) {
  return std::count(s.begin(), s.end(), '\n');
}

TEST(Cli, ConvertInspectRunWritesOutputsMatchingPyTorch) {
  const std::string model = temp_path("cli.spruce");
  const Result c = spruce_cli("convert " + fixture("mlp_pruned90/model.onnx") +
                              " -o " + model);
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_NE(c.out.find("smaller"), std::string::npos);
  EXPECT_NE(c.out.find("csr"), std::string::npos);

  const Result i = spruce_cli("inspect " + model);
  ASSERT_EQ(i.status, 0) << i.err;
  EXPECT_NE(i.out.find("Linear+relu"), std::string::npos) << i.out;

  const std::string dir = temp_path("cli_out");
  const Result r = spruce_cli(
      "run " + model + " --input input=" + fixture("mlp_pruned90/input_0.npy") +
      " --output-dir " + dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const Tensor out = tools::read_npy(dir + "/output.npy");
  const Tensor expected = tools::read_npy(fixture("mlp_pruned90/output_0.npy"));
  EXPECT_TRUE(tensors_close(out, expected));

  // The ONNX test-data format works as input too, and random inputs by default.
  EXPECT_EQ(spruce_cli("run " + model + " --input input=" +
                       fixture("mlp_pruned90/test_data_set_0/input_0.pb"))
                .status,
            0);
  EXPECT_EQ(spruce_cli("run " + model).status, 0);
}

TEST(Cli, BenchWritesJsonWithDenseComparison) {
  const std::string model = temp_path("bench.spruce");
  ASSERT_EQ(spruce_cli("convert " + fixture("mlp_pruned90/model.onnx") +
                       " -o " + model)
                .status,
            0);
  const std::string json = temp_path("bench.json");
  const Result b =
      spruce_cli("bench " + model +
                 " --time 0.2 --threads 1 --compare-dense --json " + json);
  ASSERT_EQ(b.status, 0) << b.err;
  std::ifstream in(json);
  const std::string text(std::istreambuf_iterator<char>(in), {});
  EXPECT_NE(text.find("\"latency_ms\""), std::string::npos);
  EXPECT_NE(text.find("\"p50\""), std::string::npos);
  EXPECT_NE(text.find("\"dense\""), std::string::npos);
}

// An .onnx model is converted on the fly; --iterations counts runs over all
// streams; --profile lists every layer with shares adding up to the whole.
TEST(Cli, BenchOnnxIterationsStreamsAndProfile) {
  const std::string json = temp_path("bench_profile.json");
  const Result b =
      spruce_cli("bench " + fixture("mlp_pruned90/model.onnx") +
                 " --iterations 25 --streams 2 --threads 1 --warmup 2"
                 " --batch 4 --profile --json " +
                 json);
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_NE(b.out.find("p99"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("items/s"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("GFLOP/s"), std::string::npos) << b.out;
  std::ifstream in(json);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["latency_ms"]["iterations"], 25);
  EXPECT_EQ(j["streams"], 2);
  EXPECT_EQ(j["batch"], 4);
  for (const char* key : {"mean", "p50", "p90", "p99", "min", "max"}) {
    EXPECT_GT(j["latency_ms"][key].get<double>(), 0.0) << key;
  }
  EXPECT_GT(j["throughput"].get<double>(), 0.0);
  ASSERT_EQ(j["profile"].size(), 4u);  // Flatten and 3 Linears (ReLU fused)
  double share = 0;
  size_t sparse = 0;
  for (const auto& layer : j["profile"]) {
    share += layer["share"].get<double>();
    if (layer["kernel"].get<std::string>().rfind("sparse-", 0) == 0) {
      ++sparse;
      EXPECT_GT(layer["gflops"].get<double>(), 0.0) << layer.dump();
    }
  }
  EXPECT_NEAR(share, 1.0, 1e-6);
  EXPECT_GE(sparse, 1u);
}

// --worker-thread measures from a thread other than the loading one, and
// --no-team-leader without spruce's team leader (bench/run_threads.py).
TEST(Cli, BenchFromAWorkerThreadWithAndWithoutTheTeamLeader) {
  for (const char* leader : {"", " --no-team-leader"}) {
    const std::string json = temp_path("bench_worker.json");
    const Result b = spruce_cli("bench " + fixture("cnn_pruned90/model.onnx") +
                                " --iterations 12 --threads 2 --warmup 1"
                                " --batch 16 --worker-thread --json " +
                                json + leader);
    ASSERT_EQ(b.status, 0) << leader << ": " << b.err;
    std::ifstream in(json);
    const nlohmann::json j = nlohmann::json::parse(in);
    EXPECT_EQ(j["latency_ms"]["iterations"], 12) << leader;
    EXPECT_GT(j["latency_ms"]["p50"].get<double>(), 0.0) << leader;
  }
}

// Ctrl-C stops the measurement; what was measured is still reported.
TEST(Cli, BenchReportsWhatWasMeasuredWhenInterrupted) {
  const std::string json = temp_path("bench_interrupted.json");
  const std::string out = temp_path("bench_interrupted.txt");
  const std::string cmd =
      "sh -c '" + std::string(SPRUCE_CLI_PATH) + " bench " +
      fixture("mlp_pruned90/model.onnx") + " --time 60 --threads 1 --json " +
      json + " > " + out +
      " 2>&1 & pid=$!; sleep 1.5; kill -INT $pid; wait $pid'";
  const auto start = std::chrono::steady_clock::now();
  const int raw = std::system(cmd.c_str());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_TRUE(WIFEXITED(raw));
  EXPECT_EQ(WEXITSTATUS(raw), 0);
  EXPECT_LT(seconds, 30.0);
  std::ifstream text(out);
  const std::string printed(std::istreambuf_iterator<char>(text), {});
  EXPECT_NE(printed.find("(interrupted)"), std::string::npos) << printed;
  std::ifstream in(json);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_GT(j["latency_ms"]["iterations"].get<int>(), 0);
}

// inspect on an .onnx file: the op types with support, what conversion
// folds, then the converted model's layers; an op spruce cannot run is named
// and the status is 1.
TEST(Cli, InspectOnnxReportsOpsAndConversion) {
  const Result ok =
      spruce_cli("inspect " + fixture("bert_tiny_pruned90/model.onnx"));
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("0 not supported"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("fused LayerNorm"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("LayerNorm"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("activations:"), std::string::npos) << ok.out;

  const std::string det =
      std::string(SPRUCE_ONNX_NODE_TESTS) + "/test_det_2d/model.onnx";
  const Result bad = spruce_cli("inspect " + det);
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("Det"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("NOT SUPPORTED"), std::string::npos) << bad.out;
  EXPECT_NE(bad.err.find("conversion would fail"), std::string::npos)
      << bad.err;

  const Result json = spruce_cli("inspect --json " + det);
  EXPECT_EQ(json.status, 1);
  const nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_FALSE(j["convertible"].get<bool>());
  ASSERT_EQ(j["onnx_ops"].size(), 1u);
  EXPECT_EQ(j["onnx_ops"][0]["op"], "Det");
  EXPECT_FALSE(j["onnx_ops"][0]["supported"].get<bool>());
}

// --formats restricts storage: without csr, an unstructured pruned weight
// stays dense; a bad list is an error.
TEST(Cli, ConvertFormatsOption) {
  const std::string model = temp_path("formats.spruce");
  const Result dense =
      spruce_cli("convert " + fixture("mlp_pruned90/model.onnx") + " -o " +
                 model + " --formats bsr,dense");
  ASSERT_EQ(dense.status, 0) << dense.err;
  EXPECT_EQ(dense.out.find(" csr "), std::string::npos) << dense.out;
  const Result csr =
      spruce_cli("convert " + fixture("mlp_pruned90/model.onnx") + " -o " +
                 model + " --formats csr");
  ASSERT_EQ(csr.status, 0) << csr.err;
  EXPECT_NE(csr.out.find(" csr "), std::string::npos) << csr.out;
  const Result bad =
      spruce_cli("convert " + fixture("mlp_pruned90/model.onnx") + " -o " +
                 model + " --formats coo");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("--formats"), std::string::npos) << bad.err;
}

TEST(Cli, ErrorsAreOneLineWithExitStatusOne) {
  const Result missing =
      spruce_cli("convert /nonexistent/model.onnx -o " + temp_path("x.spruce"));
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(lines(missing.err), 1u) << missing.err;
  EXPECT_NE(missing.err.find("/nonexistent/model.onnx"), std::string::npos);

  const std::string text = temp_path("text.onnx");
  std::ofstream(text) << "hello\n";
  const Result not_onnx =
      spruce_cli("convert " + text + " -o " + temp_path("y.spruce"));
  EXPECT_EQ(not_onnx.status, 1);
  EXPECT_EQ(lines(not_onnx.err), 1u) << not_onnx.err;
  EXPECT_NE(not_onnx.err.find("not an ONNX model"), std::string::npos);

  const std::string text_spruce = temp_path("text.spruce");
  std::ofstream(text_spruce) << "hello\n";
  const Result not_spruce = spruce_cli("inspect " + text_spruce);
  EXPECT_EQ(not_spruce.status, 1);
  EXPECT_NE(not_spruce.err.find("not a .spruce file"), std::string::npos)
      << not_spruce.err;
  const Result inspect_not_onnx = spruce_cli("inspect " + text);
  EXPECT_EQ(inspect_not_onnx.status, 1);
  EXPECT_EQ(lines(inspect_not_onnx.err), 1u) << inspect_not_onnx.err;
  EXPECT_NE(inspect_not_onnx.err.find("not an ONNX model"), std::string::npos);

  // A model that exists, so the error is the input name's.
  const std::string model = temp_path("errors.spruce");
  ASSERT_EQ(spruce_cli("convert " + fixture("mlp_pruned90/model.onnx") +
                       " -o " + model)
                .status,
            0);
  const Result bad_input = spruce_cli("run " + model + " --input nope=x.npy");
  EXPECT_EQ(bad_input.status, 1);
  EXPECT_EQ(lines(bad_input.err), 1u) << bad_input.err;
  EXPECT_NE(bad_input.err.find("the model has no input named 'nope'"),
            std::string::npos)
      << bad_input.err;

  // Sizes are whole numbers: "4abc" is not read as 4.
  const Result bad_shape =
      spruce_cli("bench " + model + " --iterations 1 --shape input=4abc,8,16");
  EXPECT_EQ(bad_shape.status, 1);
  EXPECT_NE(bad_shape.err.find("'4abc' is not a size"), std::string::npos)
      << bad_shape.err;
}

// int64 inputs (token ids, an attention mask) from ONNX TensorProto files,
// as the README promises: the BERT fixture's own test data.
TEST(Cli, RunsInt64PbInputs) {
  const std::string dir = fixture("bert_tiny_pruned90/test_data_set_0");
  const std::string model = temp_path("bert.spruce");
  ASSERT_EQ(spruce_cli("convert " + fixture("bert_tiny_pruned90/model.onnx") +
                       " -o " + model)
                .status,
            0);
  std::string ids, mask, output;
  converters::read_onnx_tensor_file(dir + "/input_0.pb", &ids);
  converters::read_onnx_tensor_file(dir + "/input_1.pb", &mask);
  const Tensor want =
      converters::read_onnx_tensor_file(dir + "/output_0.pb", &output);
  const std::string out_dir = temp_path("bert_out");
  const Result r = spruce_cli("run " + model + " --input " + ids + "=" + dir +
                              "/input_0.pb --input " + mask + "=" + dir +
                              "/input_1.pb --output-dir " + out_dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const Tensor got = tools::read_npy(out_dir + "/" + output + ".npy");
  EXPECT_TRUE(tensors_close(got, want));
}

// bool and uint8 inputs from ONNX TensorProto files, passed in their own
// types, and the bool output written as 0 and 1: ONNX's node tests.
TEST(Cli, RunsBoolAndUint8PbInputs) {
  for (const char* name : {"test_and2d", "test_add_uint8"}) {
    SCOPED_TRACE(name);
    const std::string dir = std::string(SPRUCE_ONNX_NODE_TESTS) + "/" + name;
    const std::string model = temp_path(std::string(name) + ".spruce");
    ASSERT_EQ(spruce_cli("convert " + dir + "/model.onnx -o " + model).status,
              0);
    std::string x, y, output;
    const std::string data = dir + "/test_data_set_0";
    converters::read_onnx_tensor_file(data + "/input_0.pb", &x);
    converters::read_onnx_tensor_file(data + "/input_1.pb", &y);
    const Tensor want =
        converters::read_onnx_tensor_file(data + "/output_0.pb", &output);
    const std::string out_dir = temp_path(std::string(name) + "_out");
    const Result r = spruce_cli("run " + model + " --input " + x + "=" + data +
                                "/input_0.pb --input " + y + "=" + data +
                                "/input_1.pb --output-dir " + out_dir);
    ASSERT_EQ(r.status, 0) << r.err;
    const Tensor got = tools::read_npy(out_dir + "/" + output + ".npy");
    EXPECT_TRUE(tensors_close(got, want, 0.0, 0.0));
  }
}

// .npy files the reader refuses, each with a one-line message: a dtype it
// does not hold (quoting the header without its padding), and a shape whose
// sizes multiply past 64 bits (refused before any allocation).
TEST(Npy, RefusesOtherDtypesAndOversizedShapes) {
  auto write = [](const std::string& path, const std::string& dict,
                  size_t data_bytes) {
    std::string header = dict;
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::ofstream out(path, std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    const char len[2] = {static_cast<char>(header.size() & 0xff),
                         static_cast<char>(header.size() >> 8)};
    out.write(len, 2);
    out << header << std::string(data_bytes, '\0');
  };
  const std::string doubles = temp_path("doubles.npy");
  write(doubles, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
        16);
  try {
    tools::read_npy(doubles);
    FAIL() << "read float64";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'shape': (2,), }"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(message.back(), '}') << message;
  }
  const std::string huge = temp_path("huge.npy");
  write(huge,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, "
        "4294967296), }",
        16);
  try {
    tools::read_npy(huge);
    FAIL() << "read a 2^64-element shape";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too large"), std::string::npos)
        << e.what();
  }
}

TEST(Cli, UnsupportedOpNamesTheOpAndNode) {
  const std::string path = temp_path("unsupported.onnx");
  {
    std::ifstream in(fixture("mlp_pruned90/model.onnx"), std::ios::binary);
    std::string bytes(std::istreambuf_iterator<char>(in), {});
    // Rename the op type "Relu" (NodeProto field 4: tag 0x22, length 4) in
    // place, same length so the protobuf stays valid, to an op spruce lacks.
    size_t at = 0;
    while ((at = bytes.find("\x22\x04Relu", at)) != std::string::npos) {
      bytes.replace(at + 2, 4, "Loop");
      at += 6;
    }
    std::ofstream(path, std::ios::binary) << bytes;
  }
  const Result r =
      spruce_cli("convert " + path + " -o " + temp_path("u.spruce"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("unsupported op 'Loop'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("node '/2/Relu'"), std::string::npos) << r.err;
}

TEST(Npy, RoundTrips) {
  const std::string path = temp_path("t.npy");
  for (Shape shape : {Shape{}, Shape{3}, Shape{2, 3}, Shape{1, 2, 5}}) {
    Tensor t(shape);
    for (size_t i = 0; i < t.size(); ++i) t.data()[i] = float(i) * 0.5f - 1;
    tools::write_npy(path, t);
    const Tensor back = tools::read_npy(path);
    EXPECT_EQ(back.shape(), shape);
    EXPECT_EQ(back.values(), t.values());
  }
}

}  // namespace
}  // namespace spruce
