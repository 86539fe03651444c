// libFuzzer target: the .spruce loader, then a run on small inputs.
// Checksums are off so that mutations reach the structural checks behind
// them; kernel selection by threshold keeps each load fast. Any input must
// give a model or a spruce::Error, never a crash, a sanitizer report or an
// unbounded allocation.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "spruce/spruce.h"

namespace {

std::string scratch_path() {
  return "/tmp/spruce_load_fuzz_" + std::to_string(getpid()) + ".spruce";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = scratch_path();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  spruce::EngineOptions options;
  options.num_threads = 1;
  options.verify_checksums = false;
  options.kernel_selection =
      spruce::EngineOptions::KernelSelection::kSparsityThreshold;
  try {
    const spruce::Engine engine = spruce::Engine::load(path, options);
    // Every input at its declared shape, dynamic dimensions 1 and 2.
    for (int64_t dynamic : {1, 2}) {
      std::vector<std::vector<float>> floats;
      std::vector<std::vector<int64_t>> ints;
      std::vector<spruce::Input> inputs;
      bool too_big = false;
      for (const spruce::TensorInfo& info : engine.inputs()) {
        spruce::Shape shape = info.shape;
        size_t count = 1;
        for (int64_t& d : shape) {
          if (d < 0) d = dynamic;
          count *= static_cast<size_t>(d);
          if (count > (size_t{1} << 20)) too_big = true;
        }
        if (too_big) break;
        floats.emplace_back(count, 0.25f);
        ints.emplace_back(count, 0);
        spruce::Input in;
        in.name = info.name;
        in.shape = shape;
        if (info.dtype == spruce::DataType::kInt64) {
          in.int64_data = ints.back().data();
        } else {
          in.data = floats.back().data();
        }
        inputs.push_back(in);
      }
      if (too_big) break;
      try {
        engine.run(inputs);
      } catch (const spruce::Error&) {
      }
    }
  } catch (const spruce::Error&) {
  }
  return 0;
}
