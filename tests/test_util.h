// Helpers shared by spruce's tests.
#ifndef SPRUCE_TESTS_TEST_UTIL_H_
#define SPRUCE_TESTS_TEST_UTIL_H_

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "spruce/tensor.h"

namespace spruce::testing {

inline std::string fixture(const std::string& relative) {
  return std::string(SPRUCE_FIXTURES_DIR) + "/" + relative;
}

// A fresh path in a per-process temporary directory.
inline std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("spruce_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

// max |a - b| / max |b|: the relative error the parity targets are quoted in.
inline double max_relative_error(const Tensor& a, const Tensor& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, double(std::abs(a.data()[i] - b.data()[i])));
    scale = std::max(scale, double(std::abs(b.data()[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

}  // namespace spruce::testing

#endif  // SPRUCE_TESTS_TEST_UTIL_H_
