// Helpers shared by spruce's tests.
#ifndef SPRUCE_TESTS_TEST_UTIL_H_
#define SPRUCE_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>
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

// A path in a per-process temporary directory, removed with everything in
// it when the test process exits (ctest runs each test as a process of its
// own: without this, a run left thousands of directories in /tmp).
inline std::string temp_path(const std::string& name) {
  struct Dir {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("spruce_test_" + std::to_string(::getpid()));
    Dir() { std::filesystem::create_directories(path); }
    ~Dir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Dir dir;
  return (dir.path / name).string();
}

// Whether `got` has `want`'s shape and every element within
// rtol·|want| + atol of its own, with atol = atol_scale · max|want|: each
// element is checked against its own value, with an absolute floor scaled to
// the output's magnitude (a sum that cancels to near zero carries the
// rounding of its large terms). The failure names the first element off and
// how many are.
inline ::testing::AssertionResult tensors_close(const Tensor& got,
                                                const Tensor& want,
                                                double rtol = 1e-4,
                                                double atol_scale = 1e-5) {
  if (got.shape() != want.shape()) {
    return ::testing::AssertionFailure()
           << "shape " << to_string(got.shape()) << ", expected "
           << to_string(want.shape());
  }
  double scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double w = std::abs(want.data()[i]);
    if (std::isfinite(w)) scale = std::max(scale, w);
  }
  const double atol = atol_scale * scale;
  size_t off = 0, first = want.size();
  for (size_t i = 0; i < want.size(); ++i) {
    const double w = want.data()[i], g = got.data()[i];
    // A NaN or an infinity wanted (sqrt of a negative, overflow) must be
    // matched exactly; finite values within the tolerance.
    const bool close = std::isfinite(w)
                           ? std::abs(g - w) <= rtol * std::abs(w) + atol
                           : (std::isnan(w) ? std::isnan(g) : g == w);
    if (!close) {
      if (off++ == 0) first = i;
    }
  }
  if (off == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << off << " of " << want.size() << " elements off; element " << first
         << " is " << got.data()[first] << ", expected " << want.data()[first]
         << " (tolerance " << rtol << "·|want| + " << atol << ")";
}

// Names parameterized tests after their fixture directory ("mlp_pruned90"),
// so that a failing case can be found, and rerun, by name.
struct FixtureName {
  std::string operator()(
      const ::testing::TestParamInfo<const char*>& info) const {
    return info.param;
  }
};

}  // namespace spruce::testing

#endif  // SPRUCE_TESTS_TEST_UTIL_H_
