// The spruce command line as a user runs it: exit status, one-line errors,
// outputs written where asked.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "npy.h"
#include "spruce/converters/onnx_tensor.h"
#include "test_util.h"

namespace spruce {
namespace {

using testing::fixture;
using testing::max_relative_error;
using testing::temp_path;

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

Result spruce_cli(const std::string& args) {
  const std::string err_file = temp_path("stderr.txt");
  const std::string cmd = std::string(SPRUCE_CLI_PATH) + " " + args + " 2>" + err_file;
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

size_t lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

TEST(Cli, ConvertInspectRunWritesOutputsMatchingPyTorch) {
  const std::string model = temp_path("cli.spruce");
  const Result c = spruce_cli("convert " + fixture("mlp_pruned90/model.onnx") + " -o " + model);
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_NE(c.out.find("smaller"), std::string::npos);
  EXPECT_NE(c.out.find("csr"), std::string::npos);

  const Result i = spruce_cli("inspect " + model);
  ASSERT_EQ(i.status, 0) << i.err;
  EXPECT_NE(i.out.find("Linear+relu"), std::string::npos) << i.out;

  const std::string dir = temp_path("cli_out");
  const Result r = spruce_cli("run " + model + " --input input=" +
                              fixture("mlp_pruned90/input_0.npy") + " --output-dir " + dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const Tensor out = tools::read_npy(dir + "/output.npy");
  const Tensor expected = tools::read_npy(fixture("mlp_pruned90/output_0.npy"));
  EXPECT_LE(max_relative_error(out, expected), 1e-4);

  // The ONNX test-data format works as input too, and random inputs by default.
  EXPECT_EQ(spruce_cli("run " + model + " --input input=" +
                       fixture("mlp_pruned90/test_data_set_0/input_0.pb")).status, 0);
  EXPECT_EQ(spruce_cli("run " + model).status, 0);
}

TEST(Cli, BenchWritesJsonWithDenseComparison) {
  const std::string model = temp_path("bench.spruce");
  ASSERT_EQ(spruce_cli("convert " + fixture("mlp_pruned90/model.onnx") + " -o " + model).status, 0);
  const std::string json = temp_path("bench.json");
  const Result b = spruce_cli("bench " + model + " --time 0.2 --threads 1 --compare-dense --json " + json);
  ASSERT_EQ(b.status, 0) << b.err;
  std::ifstream in(json);
  const std::string text(std::istreambuf_iterator<char>(in), {});
  EXPECT_NE(text.find("\"latency_ms\""), std::string::npos);
  EXPECT_NE(text.find("\"p50\""), std::string::npos);
  EXPECT_NE(text.find("\"dense\""), std::string::npos);
}

TEST(Cli, ErrorsAreOneLineWithExitStatusOne) {
  const Result missing = spruce_cli("convert /nonexistent/model.onnx -o " + temp_path("x.spruce"));
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(lines(missing.err), 1u) << missing.err;
  EXPECT_NE(missing.err.find("/nonexistent/model.onnx"), std::string::npos);

  const std::string text = temp_path("text.onnx");
  std::ofstream(text) << "hello\n";
  const Result not_onnx = spruce_cli("convert " + text + " -o " + temp_path("y.spruce"));
  EXPECT_EQ(not_onnx.status, 1);
  EXPECT_EQ(lines(not_onnx.err), 1u) << not_onnx.err;
  EXPECT_NE(not_onnx.err.find("not an ONNX model"), std::string::npos);

  const Result not_spruce = spruce_cli("inspect " + text);
  EXPECT_EQ(not_spruce.status, 1);
  EXPECT_NE(not_spruce.err.find("not a .spruce file"), std::string::npos) << not_spruce.err;

  const Result bad_input = spruce_cli("run " + temp_path("cli.spruce") + " --input nope=x.npy");
  EXPECT_EQ(bad_input.status, 1);
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
      bytes.replace(at + 2, 4, "Selu");
      at += 6;
    }
    std::ofstream(path, std::ios::binary) << bytes;
  }
  const Result r = spruce_cli("convert " + path + " -o " + temp_path("u.spruce"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("unsupported op 'Selu'"), std::string::npos) << r.err;
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
