// The spruce command line: convert, inspect, run, bench.
// Exit status 0 on success, 1 with a one-line error on stderr otherwise.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "npy.h"
#include "spruce/converters/onnx_import.h"
#include "spruce/converters/onnx_tensor.h"
#include "spruce/spruce.h"

namespace {

using spruce::Engine;
using spruce::EngineOptions;
using spruce::Error;
using spruce::Shape;
using spruce::Tensor;

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (bytes >= 1024 && u < 3) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", bytes,
                units[u]);
  return buf;
}

std::string percent(double fraction) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.1f%%", 100.0 * fraction);
  return buf;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ------------------------------------------------------------------ convert
struct ConvertArgs {
  std::string input;
  std::string output;
  double threshold = spruce::converters::ConvertOptions{}.sparse_threshold;
  bool dense = false;
  std::string block = "auto";  // "auto", "none" or RxC
  std::string formats = "csr,bsr,dense";
  std::vector<std::string> freeze;  // NAME=FILE.pb
};

// "RxC" -> {R, C}; throws on anything else.
std::pair<size_t, size_t> parse_block(const std::string& text) {
  const size_t x = text.find('x');
  size_t r = 0, c = 0;
  try {
    if (x != std::string::npos) {
      size_t used = 0;
      r = std::stoul(text.substr(0, x), &used);
      if (used != x) r = 0;
      c = std::stoul(text.substr(x + 1), &used);
      if (used != text.size() - x - 1) c = 0;
    }
  } catch (const std::exception&) {
    r = c = 0;
  }
  if (r == 0 || c == 0 || r > 64 || c > 64) {
    throw spruce::Error(
        "--block: expected auto, none or RxC with sides 1..64 (e.g. 4x1), got "
        "'" +
        text + "'");
  }
  return {r, c};
}

void convert(const ConvertArgs& args) {
  spruce::converters::ConvertOptions options;
  options.sparse_threshold = args.threshold;
  options.dense = args.dense;
  if (args.block == "none") {
    options.block_sparse = false;
  } else if (args.block != "auto") {
    std::tie(options.block_rows, options.block_cols) = parse_block(args.block);
  }
  bool csr = false, bsr = false;
  std::stringstream list(args.formats);
  std::string format;
  while (std::getline(list, format, ',')) {
    if (format == "csr") {
      csr = true;
    } else if (format == "bsr") {
      bsr = true;
    } else if (format != "dense") {
      throw Error("--formats: expected a list of csr, bsr, dense; got '" +
                  format + "'");
    }
  }
  options.allow_csr = csr;
  if (!bsr) options.block_sparse = false;
  if (!csr && !bsr) options.dense = true;
  for (const std::string& spec : args.freeze) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      throw spruce::Error("--freeze: expected NAME=FILE.pb, got '" + spec +
                          "'");
    }
    options.constant_inputs[spec.substr(0, eq)] = spec.substr(eq + 1);
  }
  const auto report =
      spruce::converters::convert_onnx_file(args.input, args.output, options);
  std::printf("%-24s %-16s %-14s %9s %-9s %11s %11s\n", "layer", "weight",
              "shape", "sparsity", "storage", "dense", "stored");
  size_t dense_total = 0, stored_total = 0;
  for (const auto& l : report.layers) {
    std::string storage = spruce::converters::format_name(l.format);
    if (l.block_rows != 0) {
      storage += " " + std::to_string(l.block_rows) + "x" +
                 std::to_string(l.block_cols);
    }
    std::printf("%-24s %-16s %-14s %9s %-9s %11s %11s\n", l.node.c_str(),
                l.weight.c_str(), spruce::to_string(l.shape).c_str(),
                percent(l.sparsity).c_str(), storage.c_str(),
                human_bytes(l.dense_bytes).c_str(),
                human_bytes(l.stored_bytes).c_str());
    dense_total += l.dense_bytes;
    stored_total += l.stored_bytes;
  }
  for (const auto& note : report.folded) std::printf("  %s\n", note.c_str());
  std::printf("weights: %s dense -> %s stored (%.1fx smaller)\n",
              human_bytes(dense_total).c_str(),
              human_bytes(stored_total).c_str(),
              stored_total ? double(dense_total) / stored_total : 0.0);
  std::printf("file: %s (%s) -> %s (%s), %.1fx smaller\n", args.input.c_str(),
              human_bytes(report.onnx_file_bytes).c_str(), args.output.c_str(),
              human_bytes(report.spruce_file_bytes).c_str(),
              double(report.onnx_file_bytes) / report.spruce_file_bytes);
}

// A .onnx model converted to a temporary .spruce file, removed afterwards.
class ModelFile {
 public:
  explicit ModelFile(const std::string& path) : path_(path) {
    if (!ends_with(path, ".onnx")) return;
    temp_ = (std::filesystem::temp_directory_path() /
             ("spruce-" + std::to_string(getpid()) + ".spruce"))
                .string();
    report_ = spruce::converters::convert_onnx_file(path, temp_, {});
    path_ = temp_;
  }
  ~ModelFile() {
    if (!temp_.empty()) {
      std::error_code ignored;
      std::filesystem::remove(temp_, ignored);
    }
  }
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;
  const std::string& path() const { return path_; }
  // What conversion did (empty for a .spruce file).
  const spruce::converters::ConversionReport& report() const { return report_; }

 private:
  std::string path_;
  std::string temp_;
  spruce::converters::ConversionReport report_;
};

// ------------------------------------------------------------------ inspect
void inspect_spruce(const std::string& path, bool json, int threads,
                    nlohmann::json* extra);

// An .onnx model: the op types it uses and whether spruce converts each,
// then what the converted model looks like; if conversion fails, why.
void inspect_onnx(const std::string& path, bool json, int threads) {
  const auto ops = spruce::converters::onnx_op_summary(path);
  nlohmann::json j;
  j["onnx_ops"] = nlohmann::json::array();
  size_t unsupported = 0;
  for (const auto& op : ops) {
    j["onnx_ops"].push_back(
        {{"op", op.op}, {"count", op.count}, {"supported", op.supported}});
    if (!op.supported) ++unsupported;
  }
  std::unique_ptr<ModelFile> file;
  std::string error;
  try {
    file = std::make_unique<ModelFile>(path);
  } catch (const Error& e) {
    error = e.what();
  }
  j["convertible"] = error.empty();
  if (!error.empty()) j["error"] = error;
  if (!json) {
    std::printf("%s: ONNX, %zu op types (%zu not supported by spruce)\n",
                path.c_str(), ops.size(), unsupported);
    std::printf("%-28s %6s  %s\n", "op", "count", "spruce");
    for (const auto& op : ops) {
      std::printf("%-28s %6zu  %s\n", op.op.c_str(), op.count,
                  op.supported ? "yes" : "NOT SUPPORTED");
    }
  }
  if (!error.empty()) {
    if (json) std::cout << j.dump(2) << "\n";
    throw Error("conversion would fail: " + error);
  }
  const auto& report = file->report();
  j["conversion"] = {{"folded", report.folded},
                     {"onnx_file_bytes", report.onnx_file_bytes},
                     {"spruce_file_bytes", report.spruce_file_bytes}};
  if (!json) {
    std::printf(
        "\nconversion (spruce convert with default options) would write %s "
        "(%.1fx smaller "
        "than the ONNX file):\n",
        human_bytes(report.spruce_file_bytes).c_str(),
        double(report.onnx_file_bytes) / report.spruce_file_bytes);
    for (const auto& note : report.folded) std::printf("  %s\n", note.c_str());
    std::printf("\n");
  }
  inspect_spruce(file->path(), json, threads, &j);
}

void inspect(const std::string& path, bool json, int threads) {
  if (ends_with(path, ".onnx")) return inspect_onnx(path, json, threads);
  inspect_spruce(path, json, threads, nullptr);
}

// A kernel's name in inspect's table: "sparse-csr" → "csr", "dense-packed"
// → "packed", "onednn-lstm" → "onednn", an LSTM's "steps(<projection>,
// <recurrent>)" → "steps P/R".
std::string short_kernel_name(const std::string& kernel) {
  auto one = [](const std::string& k) {
    if (k.rfind("onednn", 0) == 0) return std::string("onednn");
    return k.substr(k.find('-') + 1);
  };
  const size_t open = kernel.find('('), comma = kernel.find(", ");
  if (kernel.rfind("steps(", 0) == 0 && comma != std::string::npos) {
    return "steps " + one(kernel.substr(open + 1, comma - open - 1)) + "/" +
           one(kernel.substr(comma + 2, kernel.size() - comma - 3));
  }
  return one(kernel);
}

// "1-7 lookup 3.1-3.9x | 8+ csr 4.2x": ranges running the same kernel
// merged, each with the range of its measured speedups.
std::string kernels_text(const spruce::LayerInfo& l) {
  if (l.kernels.empty()) return "-";
  std::string text;
  for (size_t i = 0; i < l.kernels.size();) {
    size_t j = i;
    double lo = l.kernels[i].speedup, hi = lo;
    while (j + 1 < l.kernels.size() &&
           l.kernels[j + 1].kernel == l.kernels[i].kernel) {
      ++j;
      lo = std::min(lo, l.kernels[j].speedup);
      hi = std::max(hi, l.kernels[j].speedup);
    }
    const int64_t first = l.kernels[i].min_batch;
    std::string range = std::to_string(first);
    if (j + 1 < l.kernels.size()) {
      const int64_t last = l.kernels[j + 1].min_batch - 1;
      if (last != first) range += "-" + std::to_string(last);
    } else {
      range += "+";
    }
    char speedup[48];
    if (hi - lo < 0.05) {
      std::snprintf(speedup, sizeof speedup, "%.1fx", lo);
    } else {
      std::snprintf(speedup, sizeof speedup, "%.1f-%.1fx", lo, hi);
    }
    text += (text.empty() ? "" : " | ") + range + " " +
            short_kernel_name(l.kernels[i].kernel) + " " + speedup;
    i = j + 1;
  }
  return text;
}

nlohmann::json kernels_json(const spruce::LayerInfo& l) {
  nlohmann::json ranges = nlohmann::json::array();
  for (const auto& r : l.kernels) {
    ranges.push_back({{"min_batch", r.min_batch},
                      {"kernel", r.kernel},
                      {"speedup", r.speedup}});
  }
  return ranges;
}

// `extra`: fields to add to the JSON (an .onnx model's).
void inspect_spruce(const std::string& path, bool json, int threads,
                    nlohmann::json* extra) {
  EngineOptions options;
  options.num_threads = threads;
  const Engine engine = Engine::load(path, options);
  size_t stored = 0, dense = 0;
  for (const auto& l : engine.layers()) {
    stored += l.stored_bytes;
    dense += l.dense_bytes;
  }
  if (json) {
    nlohmann::json j = extra != nullptr ? *extra : nlohmann::json::object();
    j["file"] = path;
    j["file_bytes"] = std::filesystem::file_size(path);
    for (const auto& t : engine.inputs())
      j["inputs"].push_back({{"name", t.name}, {"shape", t.shape}});
    for (const auto& t : engine.outputs())
      j["outputs"].push_back({{"name", t.name}, {"shape", t.shape}});
    for (const auto& l : engine.layers()) {
      j["layers"].push_back(
          {{"name", l.name},
           {"op", l.op},
           {"storage", l.storage},
           {"kernels", kernels_json(l)},
           {"block_shape", l.block_shape},
           {"activation", l.activation},
           {"weight_shape", l.weight_shape},
           {"sparsity", l.sparsity},
           {"index_bits", l.index_bits},
           {"stored_bytes", l.stored_bytes},
           {"dense_bytes", l.dense_bytes}});
    }
    j["weights"] = {{"stored_bytes", stored}, {"dense_bytes", dense}};
    const spruce::PruningAdvice advice =
        spruce::pruning_advice(engine.layers());
    if (!advice.layers.empty()) {
      j["warnings"].push_back(advice.message());
    }
    j["activations"] = {
        {"peak_bytes", engine.memory_plan().peak_bytes},
        {"unplanned_bytes", engine.memory_plan().unplanned_bytes}};
    j["images_apart"] = engine.runs_images_apart();
    if (engine.runs_images_apart() &&
        engine.whole_batch_from() < engine.layers().size()) {
      j["whole_batch_from"] = engine.layers()[engine.whole_batch_from()].name;
    }
    const spruce::LayoutPlanInfo& plans = engine.layout_plan();
    j["layout_plans"] = {{"conversion_scales", plans.conversion_scales},
                         {"seconds", plans.seconds},
                         {"chosen", plans.chosen}};
    j["metadata"] = engine.metadata();
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("%s: %s\n", path.c_str(),
              human_bytes(std::filesystem::file_size(path)).c_str());
  for (const auto& [k, v] : engine.metadata())
    std::printf("  %s: %s\n", k.c_str(), v.c_str());
  for (const auto& t : engine.inputs())
    std::printf("input  %s %s\n", t.name.c_str(),
                spruce::to_string(t.shape).c_str());
  for (const auto& t : engine.outputs())
    std::printf("output %s %s\n", t.name.c_str(),
                spruce::to_string(t.shape).c_str());
  std::printf("%-24s %-12s %-12s %-9s %5s %9s %11s %11s  %s\n", "layer", "op",
              "weight", "storage", "index", "sparsity", "dense", "stored",
              "kernel by batch");
  for (const auto& l : engine.layers()) {
    const std::string op =
        l.activation.empty() ? l.op : l.op + "+" + l.activation;
    const std::string storage =
        l.block_shape.empty() ? l.storage : l.storage + " " + l.block_shape;
    std::printf(
        "%-24s %-12s %-12s %-9s %5s %9s %11s %11s  %s\n", l.name.c_str(),
        op.c_str(),
        l.weight_shape.empty() ? "-"
                               : spruce::to_string(l.weight_shape).c_str(),
        storage.c_str(),
        l.index_bits ? (std::to_string(l.index_bits) + "b").c_str() : "-",
        l.weight_shape.empty() ? "-" : percent(l.sparsity).c_str(),
        l.dense_bytes ? human_bytes(l.dense_bytes).c_str() : "-",
        l.stored_bytes ? human_bytes(l.stored_bytes).c_str() : "-",
        kernels_text(l).c_str());
  }
  std::printf(
      "kernel by batch: for each range of batch widths (rows a Linear "
      "multiplies; an LSTM's\n"
      "batch), the kernel chosen by timing every candidate on this CPU at "
      "load, and its\n"
      "speedup over the fastest dense kernel there (onednn: oneDNN matmul, "
      "weights packed;\n"
      "packed: spruce's dense kernel for a few rows). LSTM: steps P/R = "
      "spruce's step loop\n"
      "with input projection P and recurrent product R on those kernels.\n");
  std::printf("weights: %s dense -> %s stored (%.1fx smaller)\n",
              human_bytes(dense).c_str(), human_bytes(stored).c_str(),
              stored ? double(dense) / stored : 0.0);
  const std::string advice = spruce::pruning_advice(engine.layers()).message();
  if (!advice.empty()) std::printf("warning: %s\n", advice.c_str());
  const spruce::MemoryPlanInfo& memory = engine.memory_plan();
  std::printf(
      "activations: %s peak at batch 1 (%s if every tensor had its own "
      "buffer)\n",
      human_bytes(memory.peak_bytes).c_str(),
      human_bytes(memory.unplanned_bytes).c_str());
  const spruce::LayoutPlanInfo& plans = engine.layout_plan();
  if (!plans.seconds.empty()) {
    std::printf("layouts: %zu plans timed at load (conversion estimates x",
                plans.seconds.size());
    for (size_t i = 0; i < plans.seconds.size(); ++i) {
      std::printf("%s%g: %.2f ms", i > 0 ? ", x" : "",
                  plans.conversion_scales[i], 1e3 * plans.seconds[i]);
    }
    std::printf("); the x%g one runs\n", plans.conversion_scales[plans.chosen]);
  }
  if (engine.runs_images_apart()) {
    std::printf(
        "batches run image by image: every op keeps the images apart, so "
        "each image's\nactivations stay in cache from layer to layer\n");
    const size_t from = engine.whole_batch_from();
    if (from < engine.layers().size()) {
      std::printf(
          "  from layer %zu (%s) on, once over the whole batch:\n  those "
          "layers' weights outweigh an image's activations\n",
          from, engine.layers()[from].name.c_str());
    }
  }
}

// ------------------------------------------------------------------ inputs
// The model's inputs: from files where given, random in [-1, 1) otherwise,
// dynamic dimensions set to `batch`.
// Shapes given as NAME=d0,d1,... (a dynamic dimension's size, per input).
std::map<std::string, Shape> parse_shapes(
    const std::vector<std::string>& specs) {
  std::map<std::string, Shape> shapes;
  for (const std::string& spec : specs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Error("--shape '" + spec + "' is not NAME=d0,d1,...");
    }
    Shape shape;
    std::stringstream dims(spec.substr(eq + 1));
    std::string d;
    while (std::getline(dims, d, ',')) {
      // All of it a number: stoll alone would read "4abc" as 4.
      size_t used = 0;
      try {
        shape.push_back(std::stoll(d, &used));
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != d.size()) {
        throw Error("--shape '" + spec + "': '" + d + "' is not a size");
      }
      if (shape.back() < 1)
        throw Error("--shape '" + spec + "': sizes must be >= 1");
    }
    shapes[spec.substr(0, eq)] = shape;
  }
  return shapes;
}

std::vector<Tensor> make_inputs(
    const Engine& engine, const std::vector<std::string>& specs, int64_t batch,
    uint32_t seed, const std::map<std::string, Shape>& shapes = {}) {
  std::vector<Tensor> tensors;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (const auto& info : engine.inputs()) {
    std::string file;
    for (const auto& spec : specs) {
      const size_t eq = spec.find('=');
      if (eq == std::string::npos) {
        throw Error("--input '" + spec + "' is not NAME=FILE");
      }
      if (spec.substr(0, eq) == info.name) file = spec.substr(eq + 1);
    }
    if (!file.empty()) {
      tensors.push_back(ends_with(file, ".npy")
                            ? spruce::tools::read_npy(file)
                            : spruce::converters::read_onnx_tensor_file(file));
      continue;
    }
    Shape shape = info.shape;
    for (auto& d : shape) d = d < 0 ? batch : d;
    const auto given = shapes.find(info.name);
    if (given != shapes.end()) {
      if (given->second.size() != info.shape.size()) {
        throw Error("--shape " + info.name + ": rank " +
                    std::to_string(given->second.size()) + ", the model's is " +
                    spruce::to_string(info.shape));
      }
      shape = given->second;
    }
    Tensor t(shape);
    // Random floats; integer and bool inputs (token ids, masks) get 1,
    // valid for any embedding table and a mask that keeps every token.
    for (size_t k = 0; k < t.size(); ++k) {
      t.data()[k] = spruce::is_integer(info.dtype) ? 1.0f : uniform(rng);
    }
    tensors.push_back(std::move(t));
  }
  for (const auto& spec : specs) {
    const std::string name = spec.substr(0, spec.find('='));
    const bool known =
        std::any_of(engine.inputs().begin(), engine.inputs().end(),
                    [&](const auto& i) { return i.name == name; });
    if (!known)
      throw Error("--input: the model has no input named '" + name + "'");
  }
  return tensors;
}

// Engine inputs over `tensors`; integer and bool inputs are converted into
// their own types in `typed`, which must outlive the returned inputs.
std::vector<spruce::Input> as_inputs(
    const Engine& engine, const std::vector<Tensor>& tensors,
    std::vector<std::vector<unsigned char>>* typed) {
  std::vector<spruce::Input> inputs;
  typed->resize(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const spruce::TensorInfo& info = engine.inputs()[i];
    spruce::Input in{info.name, tensors[i].data(), tensors[i].shape()};
    if (spruce::is_integer(info.dtype)) {
      std::vector<int64_t> ints;
      for (float v : tensors[i].values()) {
        if (v != std::trunc(v)) {
          throw Error("input '" + info.name + "' is " +
                      spruce::data_type_name(info.dtype) + " but holds " +
                      std::to_string(v));
        }
        ints.push_back(static_cast<int64_t>(v));
      }
      try {
        (*typed)[i] = spruce::to_elements(ints, info.dtype);
      } catch (const Error& e) {
        throw Error("input '" + info.name + "': " + e.what());
      }
      in.data = nullptr;
      in.elements = (*typed)[i].data();
    }
    inputs.push_back(in);
  }
  return inputs;
}

// ------------------------------------------------------------------ run
void run(const std::string& path, const std::vector<std::string>& specs,
         const std::string& output_dir, int threads) {
  EngineOptions options;
  options.num_threads = threads;
  const Engine engine = Engine::load(path, options);
  const auto tensors = make_inputs(engine, specs, 1, 0);
  std::vector<std::vector<unsigned char>> typed;
  const auto outputs = engine.run(as_inputs(engine, tensors, &typed));
  if (!output_dir.empty()) std::filesystem::create_directories(output_dir);
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& info = engine.outputs()[i];
    const Tensor& t = outputs[i];
    float lo = t.size() ? t.data()[0] : 0, hi = lo;
    double sum = 0;
    for (size_t k = 0; k < t.size(); ++k) {
      lo = std::min(lo, t.data()[k]);
      hi = std::max(hi, t.data()[k]);
      sum += t.data()[k];
    }
    std::string where;
    if (!output_dir.empty()) {
      // Output names can hold characters a file name cannot.
      std::string file = info.name;
      for (char& c : file)
        if (c == '/' || c == '\\' || c == ':') c = '_';
      where = output_dir + "/" + file + ".npy";
      spruce::tools::write_npy(where, t);
    }
    std::printf("%s %s min %.6g max %.6g mean %.6g%s%s\n", info.name.c_str(),
                spruce::to_string(t.shape()).c_str(), lo, hi,
                t.size() ? sum / t.size() : 0.0, where.empty() ? "" : " -> ",
                where.c_str());
  }
}

// ------------------------------------------------------------------ bench
struct BenchArgs {
  std::vector<std::string> shapes;  // NAME=d0,d1,...
  std::string model;
  int threads = 0;
  int streams = 1;
  int warmup = 10;
  int iterations = 0;  // 0: run for `seconds`
  double seconds = 3.0;
  int64_t batch = 1;
  bool compare_dense = false;
  bool profile = false;
  bool worker_thread = false;   // one stream on a thread of its own
  bool no_team_leader = false;  // EngineOptions::use_team_leader = false
  bool whole_batch = false;     // EngineOptions::split_batch = false
  std::vector<std::string> kernels;  // EngineOptions::kernels
  std::string json;
};

struct Latency {
  std::vector<double> ms;
  double quantile(double q) const {
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    const size_t i =
        std::min(s.size() - 1, static_cast<size_t>(q * (s.size() - 1) + 0.5));
    return s[i];
  }
  double mean() const {
    double sum = 0;
    for (double v : ms) sum += v;
    return sum / static_cast<double>(ms.size());
  }
  nlohmann::json to_json() const {
    return {{"mean", mean()},         {"p50", quantile(0.5)},
            {"p90", quantile(0.9)},   {"p99", quantile(0.99)},
            {"min", quantile(0.0)},   {"max", quantile(1.0)},
            {"iterations", ms.size()}};
  }
};

// Set by Ctrl-C: measuring stops and what was measured is reported. A
// second Ctrl-C ends the process as usual.
std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);
}

double time_run_ms(const Engine& engine,
                   const std::vector<spruce::Input>& inputs) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto out = engine.run(inputs);
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

// One measured phase: `streams` threads run `engine` concurrently until
// `seconds` pass or `iterations` runs are done (over all streams), adding
// each run's latency to *latency. Returns the wall time. With a terminal on
// stderr and a phase longer than 2 s, a progress line is kept up to date.
// One stream runs on the calling thread (the one that loaded the engine)
// unless `worker_thread`; more, each on its own thread, share the engine.
double measure(const Engine& engine, const std::vector<spruce::Input>& inputs,
               int streams, bool worker_thread, double seconds, int iterations,
               const char* label, Latency* latency) {
  std::atomic<int> started{0};
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> times(static_cast<size_t>(streams));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(streams));
  const auto start = std::chrono::steady_clock::now();
  const bool progress =
      isatty(fileno(stderr)) && (iterations > 0 || seconds > 2.0);
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  };
  if (streams == 1 && !worker_thread) {
    double shown = 0;
    while (!g_interrupted &&
           (iterations > 0 ? static_cast<int>(times[0].size()) < iterations
                           : elapsed() < seconds)) {
      times[0].push_back(time_run_ms(engine, inputs));
      if (progress && elapsed() - shown >= 0.25) {
        shown = elapsed();
        std::fprintf(stderr, "\r%s: %.1f s, %zu runs ", label, shown,
                     times[0].size());
      }
    }
    if (progress) std::fprintf(stderr, "\r%*s\r", 60, "");
    latency->ms.insert(latency->ms.end(), times[0].begin(), times[0].end());
    return elapsed();
  }
  std::vector<std::thread> workers;
  for (int s = 0; s < streams; ++s) {
    workers.emplace_back([&, s] {
      try {
        while (!stop && !g_interrupted) {
          if (iterations > 0 && started.fetch_add(1) >= iterations) break;
          times[static_cast<size_t>(s)].push_back(time_run_ms(engine, inputs));
        }
      } catch (...) {
        errors[static_cast<size_t>(s)] = std::current_exception();
        stop = true;
      }
    });
  }
  while (!stop && !g_interrupted) {
    if (iterations == 0 && elapsed() >= seconds) break;
    if (iterations > 0 && started.load() >= iterations) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (progress) {
      size_t runs = 0;
      for (const auto& t : times)
        runs += t.size();  // approximate while running
      std::fprintf(stderr, "\r%s: %.1f s, %zu runs ", label, elapsed(), runs);
    }
  }
  stop = true;
  for (auto& w : workers) w.join();
  if (progress) std::fprintf(stderr, "\r%*s\r", 60, "");
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  for (const auto& t : times)
    latency->ms.insert(latency->ms.end(), t.begin(), t.end());
  return elapsed();
}

// label: "" alone, "sparse " and "dense " side by side.
void print_latency(const char* label, const Latency& l, double throughput) {
  std::printf(
      "%slatency (ms): mean %.4f  p50 %.4f  p90 %.4f  p99 %.4f  min %.4f  max "
      "%.4f"
      "  (%zu runs)\n",
      label, l.mean(), l.quantile(0.5), l.quantile(0.9), l.quantile(0.99),
      l.quantile(0.0), l.quantile(1.0), l.ms.size());
  std::printf("%sthroughput: %.2f items/s\n", label, throughput);
}

// Per-layer time over profiled runs, largest first.
nlohmann::json profile_layers(const Engine& engine,
                              const std::vector<spruce::Input>& inputs,
                              int runs) {
  spruce::RunProfile profile;
  for (int r = 0; r < runs && !g_interrupted; ++r) engine.run(inputs, &profile);
  nlohmann::json layers = nlohmann::json::array();
  if (profile.runs == 0) return layers;
  double total = 0;
  for (double t : profile.seconds) total += t;
  std::vector<size_t> order(profile.seconds.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return profile.seconds[a] > profile.seconds[b];
  });
  std::printf("\n%-40s %-12s %-11s %-10s %10s %7s %9s\n", "layer (per run)",
              "op", "format", "kernel", "ms", "share", "GFLOP/s");
  for (size_t i : order) {
    const spruce::LayerInfo& l = engine.layers()[i];
    const double ms =
        1e3 * profile.seconds[i] / static_cast<double>(profile.runs);
    const double share = total > 0 ? profile.seconds[i] / total : 0.0;
    const double gflops = profile.seconds[i] > 0
                              ? profile.flops[i] / profile.seconds[i] / 1e9
                              : 0;
    const std::string format =
        l.block_shape.empty() ? l.storage : l.storage + " " + l.block_shape;
    layers.push_back({{"layer", l.name},
                      {"op", l.op},
                      {"format", format},
                      {"kernel", profile.kernels[i]},
                      {"ms", ms},
                      {"share", share},
                      {"gflops", gflops}});
    std::string name = l.name;
    if (name.size() > 40) name = "..." + name.substr(name.size() - 37);
    char rate[32] = "-";
    if (profile.flops[i] > 0) std::snprintf(rate, sizeof rate, "%.1f", gflops);
    std::printf("%-40s %-12s %-11s %-10s %10.4f %6.1f%% %9s\n", name.c_str(),
                l.op.c_str(), format.c_str(), profile.kernels[i].c_str(), ms,
                100.0 * share, rate);
  }
  std::printf("%-40s %-12s %-11s %-10s %10.4f %6.1f%%\n", "total", "", "", "",
              1e3 * total / static_cast<double>(profile.runs), 100.0);
  std::printf(
      "GFLOP/s: the work each kernel does (a sparse kernel's non-zeros only), "
      "per second\n");
  return layers;
}

void bench(const BenchArgs& args) {
  const ModelFile file(args.model);
  EngineOptions options;
  options.num_threads = args.threads;
  options.use_team_leader = !args.no_team_leader;
  options.split_batch = !args.whole_batch;
  options.kernels = args.kernels;
  const Engine sparse = Engine::load(file.path(), options);
  options.force_dense = true;
  std::unique_ptr<Engine> dense;
  if (args.compare_dense)
    dense = std::make_unique<Engine>(Engine::load(file.path(), options));

  const auto shapes = parse_shapes(args.shapes);
  const auto tensors = make_inputs(sparse, {}, args.batch, 0, shapes);
  std::vector<std::vector<unsigned char>> typed;
  const auto inputs = as_inputs(sparse, tensors, &typed);
  // Items per run: the batch, which --shape gives as the first input's
  // first dimension.
  const int64_t items =
      tensors.empty() || tensors[0].shape().empty() || shapes.empty()
          ? args.batch
          : tensors[0].shape()[0];
  for (int i = 0; i < args.warmup; ++i) {  // caches, oneDNN primitive creation
    time_run_ms(sparse, inputs);
    if (dense) time_run_ms(*dense, inputs);
  }
  g_interrupted = false;
  std::signal(SIGINT, on_interrupt);
  // With --compare-dense, sparse and dense alternate in four phases each so
  // that machine noise hits both alike.
  const int phases = dense ? 4 : 1;
  Latency s, d;
  double s_wall = 0, d_wall = 0;
  for (int p = 0; p < phases && !g_interrupted; ++p) {
    const int iterations =
        args.iterations > 0 ? std::max(1, args.iterations / phases) : 0;
    s_wall += measure(sparse, inputs, args.streams, args.worker_thread,
                      args.seconds / phases, iterations, "sparse", &s);
    if (dense && !g_interrupted) {
      d_wall += measure(*dense, inputs, args.streams, args.worker_thread,
                        args.seconds / phases, iterations, "dense", &d);
    }
  }
  const bool interrupted = g_interrupted;
  if (s.ms.empty()) throw Error("interrupted before any run finished");

  size_t stored = 0, dense_bytes = 0;
  for (const auto& l : sparse.layers()) {
    stored += l.stored_bytes;
    dense_bytes += l.dense_bytes;
  }
  std::string threads = args.threads > 0 ? std::to_string(args.threads) : "all";
  std::printf("%s: batch %lld, threads %s, streams %d%s\n", args.model.c_str(),
              static_cast<long long>(items), threads.c_str(), args.streams,
              interrupted ? " (interrupted)" : "");
  std::printf("weights: %s dense -> %s stored (%.1fx smaller)\n",
              human_bytes(dense_bytes).c_str(), human_bytes(stored).c_str(),
              stored ? double(dense_bytes) / stored : 0.0);
  const double s_throughput = static_cast<double>(items) * s.ms.size() / s_wall;
  print_latency(dense ? "sparse " : "", s, s_throughput);
  nlohmann::json j;
  j["model"] = args.model;
  j["batch"] = items;
  j["threads"] = args.threads;
  j["streams"] = args.streams;
  j["interrupted"] = interrupted;
  j["latency_ms"] = s.to_json();
  j["throughput"] = s_throughput;
  j["weights"] = {{"stored_bytes", stored}, {"dense_bytes", dense_bytes}};
  if (dense && !d.ms.empty()) {
    const double d_throughput =
        static_cast<double>(items) * d.ms.size() / d_wall;
    print_latency("dense ", d, d_throughput);
    std::printf("sparse is %.2fx faster than dense (p50)\n",
                d.quantile(0.5) / s.quantile(0.5));
    j["dense"] = {{"latency_ms", d.to_json()}, {"throughput", d_throughput}};
    j["speedup_p50"] = d.quantile(0.5) / s.quantile(0.5);
  }
  if (args.profile && !g_interrupted) {
    j["profile"] = profile_layers(
        sparse, inputs,
        std::max(5, std::min(50, static_cast<int>(s.ms.size()))));
  }
  std::signal(SIGINT, SIG_DFL);
  if (!args.json.empty()) {
    std::ofstream out(args.json);
    out << j.dump(2) << "\n";
    if (!out) throw Error(args.json + ": cannot write");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spruce: sparse inference runtime for CPUs"};
  app.set_version_flag("--version",
                       std::string("spruce ") + spruce::kVersionString);
  app.require_subcommand(1);

  ConvertArgs convert_args;
  auto* c =
      app.add_subcommand("convert", "Convert a pruned ONNX model to .spruce");
  c->add_option("input", convert_args.input, "ONNX model")->required();
  c->add_option("-o,--output", convert_args.output, ".spruce file to write")
      ->required();
  c->add_option("--sparse-threshold", convert_args.threshold,
                "Store a weight sparse when at least this fraction is zero")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  c->add_flag("--dense", convert_args.dense, "Keep every weight dense");
  c->add_option("--formats", convert_args.formats,
                "Storage formats to allow, comma-separated: csr, bsr, dense "
                "(dense is always "
                "the fallback)")
      ->capture_default_str();
  c->add_option(
      "--freeze", convert_args.freeze,
      "NAME=FILE.pb: make graph input NAME a constant with the ONNX "
      "TensorProto in FILE "
      "(for models that pass weights as inputs, like ONNX's backend tests)");
  c->add_option(
       "--block", convert_args.block,
       "Block-sparse storage: auto (detect block-pruned weights), none, or RxC "
       "(e.g. 4x1, 8x1, 16x1, 1x4, 4x4)")
      ->capture_default_str();

  std::string inspect_path;
  bool inspect_json = false;
  auto* i = app.add_subcommand(
      "inspect", "Show a model's layers, formats, sizes and planned kernels");
  i->add_option("model", inspect_path,
                ".spruce file, or .onnx (what conversion would do, and which "
                "ops it cannot run)")
      ->required();
  i->add_flag("--json", inspect_json, "Print JSON");
  int inspect_threads = 0;
  i->add_option(
      "--threads", inspect_threads,
      "Threads the kernel timings use, as `run`/`bench` would (0 = all cores)");

  std::string run_path, output_dir;
  std::vector<std::string> input_specs;
  int run_threads = 0;
  auto* r = app.add_subcommand("run", "Run a .spruce model once");
  r->add_option("model", run_path, ".spruce file")->required();
  r->add_option(
      "--input", input_specs,
      "NAME=FILE (.npy or ONNX TensorProto .pb); random if not given");
  r->add_option("--output-dir", output_dir,
                "Write each output as DIR/<name>.npy");
  r->add_option("--threads", run_threads, "Threads (0 = all cores)");

  BenchArgs bench_args;
  auto* b =
      app.add_subcommand("bench", "Measure a model's latency and throughput");
  b->add_option("model", bench_args.model,
                ".spruce file, or .onnx (converted on the fly)")
      ->required();
  b->add_option("--threads", bench_args.threads,
                "Threads per run (0 = all cores)")
      ->capture_default_str();
  b->add_option("--streams", bench_args.streams,
                "Concurrent runs from this many threads, sharing one engine")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  b->add_option("--warmup", bench_args.warmup, "Unmeasured runs first")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  b->add_option("--time", bench_args.seconds, "Seconds to measure")
      ->capture_default_str();
  b->add_option("--iterations", bench_args.iterations,
                "Measure this many runs instead of --time")
      ->check(CLI::NonNegativeNumber);
  b->add_flag("--profile", bench_args.profile,
              "Print per-layer time, share, format, kernel and GFLOP/s");
  b->add_option("--batch", bench_args.batch, "Size of dynamic dimensions")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  b->add_option("--shape", bench_args.shapes,
                "NAME=d0,d1,...: an input's full shape (overrides --batch)");
  b->add_flag("--compare-dense", bench_args.compare_dense,
              "Also run every layer on the fastest dense kernel (timed at "
              "load, as a dense model) and report the speedup");
  b->add_option("--kernels", bench_args.kernels,
                "Kernels layers may run, comma-separated (onednn, "
                "dense-packed, sparse-lookup, sparse-csr, sparse-bsr; "
                "default: all)")
      ->delimiter(',');
  b->add_flag("--worker-thread", bench_args.worker_thread,
              "Run a single stream from a new thread, not the loading one "
              "(as a service's request threads do)");
  b->add_flag("--no-team-leader", bench_args.no_team_leader,
              "Lead multi-threaded runs' OpenMP teams from the calling "
              "thread instead of spruce's team leader (for comparison)");
  b->add_flag("--whole-batch", bench_args.whole_batch,
              "Run a batch of images as one run even where the engine would "
              "run it image by image (for comparison)");
  b->add_option("--json", bench_args.json,
                "Write results as JSON to this file");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
  try {
    if (c->parsed()) convert(convert_args);
    if (i->parsed()) inspect(inspect_path, inspect_json, inspect_threads);
    if (r->parsed()) run(run_path, input_specs, output_dir, run_threads);
    if (b->parsed()) bench(bench_args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spruce: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
