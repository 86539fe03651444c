// Embedding spruce in a C++ service: load a model once, serve requests from
// many threads on the one Engine, reuse each thread's input and output
// buffers so that steady-state requests do not allocate, and handle bad
// requests without disturbing the others.
//
//   embed MODEL.spruce [THREADS] [REQUESTS_PER_THREAD]
#include <spruce/spruce.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

// One worker's request buffers, made once: each model input at batch 1
// (dynamic dimensions set to 1), float, integer or bool as the model
// declares.
struct Request {
  std::vector<std::vector<float>> floats;
  std::vector<std::vector<unsigned char>> ints;  // integer inputs, typed
  std::vector<spruce::Input> inputs;             // point into floats / ints

  Request(const spruce::Engine& engine, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    const auto& infos = engine.inputs();
    floats.resize(infos.size());
    ints.resize(infos.size());
    for (size_t i = 0; i < infos.size(); ++i) {
      spruce::Shape shape = infos[i].shape;
      for (int64_t& d : shape) d = d < 0 ? 1 : d;
      const size_t count = spruce::element_count(shape);
      spruce::Input in;
      in.name = infos[i].name;
      in.shape = shape;
      if (spruce::is_integer(infos[i].dtype)) {
        // Token ids / attention masks, in the input's own type.
        ints[i] =
            spruce::to_elements(std::vector<int64_t>(count, 1), infos[i].dtype);
        in.elements = ints[i].data();
      } else {
        floats[i].resize(count);
        for (float& v : floats[i]) v = uniform(rng);
        in.data = floats[i].data();
      }
      inputs.push_back(in);
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.spruce [THREADS] [REQUESTS]\n",
                 argv[0]);
    return 2;
  }
  const int threads = argc > 2 ? std::atoi(argv[2]) : 4;
  const int requests = argc > 3 ? std::atoi(argv[3]) : 200;
  try {
    // Load once. Each request runs on its caller's thread alone
    // (num_threads = 1): the service's own threads give the parallelism.
    spruce::EngineOptions options;
    options.num_threads = 1;
    const spruce::Engine engine = spruce::Engine::load(argv[1], options);
    std::printf("loaded %s: %zu inputs, %zu outputs, %zu layers\n", argv[1],
                engine.inputs().size(), engine.outputs().size(),
                engine.layers().size());

    // A bad request gets a spruce::Error naming the problem; the engine is
    // unaffected.
    try {
      engine.run({{"no_such_input", nullptr, {1}}});
    } catch (const spruce::Error& e) {
      std::printf("bad request refused: %s\n", e.what());
    }

    std::vector<double> seconds(static_cast<size_t>(threads));
    std::vector<std::vector<spruce::Tensor>> last(static_cast<size_t>(threads));
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        const Request request(engine, 7);     // the same input on every thread
        std::vector<spruce::Tensor> outputs;  // reused: no allocation per call
        const auto start = std::chrono::steady_clock::now();
        for (int r = 0; r < requests; ++r) engine.run(request.inputs, &outputs);
        seconds[static_cast<size_t>(t)] =
            std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                          start)
                .count();
        last[static_cast<size_t>(t)] = std::move(outputs);
      });
    }
    for (auto& w : workers) w.join();

    // Every thread ran the same input: the outputs must agree exactly.
    for (int t = 1; t < threads; ++t) {
      for (size_t k = 0; k < last[0].size(); ++k) {
        if (last[static_cast<size_t>(t)][k].values() != last[0][k].values()) {
          std::fprintf(
              stderr, "thread %d's output %zu differs from thread 0's\n", t, k);
          return 1;
        }
      }
    }
    for (int t = 0; t < threads; ++t) {
      std::printf("thread %d: %d requests, %.3f ms each\n", t, requests,
                  1e3 * seconds[static_cast<size_t>(t)] / requests);
    }
    std::printf("outputs agree across %d threads; first output %s\n", threads,
                spruce::to_string(last[0][0].shape()).c_str());
  } catch (const spruce::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
