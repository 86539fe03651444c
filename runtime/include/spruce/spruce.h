// spruce: a sparse inference runtime for CPUs. Include this, link
// spruce::runtime.
//
//   spruce::Engine engine = spruce::Engine::load("model.spruce");
//   std::vector<float> x(784);
//   auto outputs = engine.run({{"input", x.data(), {1, 784}}});
#ifndef SPRUCE_SPRUCE_H_
#define SPRUCE_SPRUCE_H_

#include "spruce/engine.h"     // IWYU pragma: export
#include "spruce/error.h"      // IWYU pragma: export
#include "spruce/tensor.h"     // IWYU pragma: export
#include "spruce/version.h"    // IWYU pragma: export

#endif  // SPRUCE_SPRUCE_H_
