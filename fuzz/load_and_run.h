// What load_fuzzer does with one file, shared with the regression test that
// replays its findings (tests/runtime/model_file_test.cc): load with
// checksums off, so that mutations reach the structural checks behind them,
// and kernel selection by threshold, so that each load is fast; then run
// every input at its declared shape with dynamic dimensions 1 and 2. Any
// file must give a model or a spruce::Error, never a crash, a sanitizer
// report or an unbounded allocation; errors are reported, not thrown.
#ifndef SPRUCE_FUZZ_LOAD_AND_RUN_H_
#define SPRUCE_FUZZ_LOAD_AND_RUN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "spruce/spruce.h"

namespace spruce::fuzz {

// What happened: the load's error, or the first run's ("" where it
// succeeded or did not happen).
struct Outcome {
  bool loaded = false;
  std::string load_error;
  std::string run_error;
};

inline Outcome load_and_run(const std::string& path) {
  EngineOptions options;
  options.num_threads = 1;
  options.verify_checksums = false;
  options.kernel_selection = EngineOptions::KernelSelection::kSparsityThreshold;
  Outcome outcome;
  try {
    const Engine engine = Engine::load(path, options);
    outcome.loaded = true;
    for (int64_t dynamic : {1, 2}) {
      std::vector<std::vector<float>> floats;
      std::vector<std::vector<int64_t>> ints;
      std::vector<std::vector<unsigned char>> typed;  // ints, in their types
      std::vector<Input> inputs;
      bool too_big = false;
      for (const TensorInfo& info : engine.inputs()) {
        Shape shape = info.shape;
        size_t count = 1;
        for (int64_t& d : shape) {
          if (d < 0) d = dynamic;
          count *= static_cast<size_t>(d);
          if (count > (size_t{1} << 20)) too_big = true;
        }
        if (too_big) break;
        floats.emplace_back(count, 0.25f);
        ints.emplace_back(count, 0);
        Input in;
        in.name = info.name;
        in.shape = shape;
        if (is_integer(info.dtype)) {
          typed.push_back(to_elements(ints.back(), info.dtype));
          in.elements = typed.back().data();
        } else {
          in.data = floats.back().data();
        }
        inputs.push_back(in);
      }
      if (too_big) break;
      try {
        engine.run(inputs);
      } catch (const Error& e) {
        if (outcome.run_error.empty()) outcome.run_error = e.what();
      }
    }
  } catch (const Error& e) {
    outcome.load_error = e.what();
  }
  return outcome;
}

}  // namespace spruce::fuzz

#endif  // SPRUCE_FUZZ_LOAD_AND_RUN_H_
