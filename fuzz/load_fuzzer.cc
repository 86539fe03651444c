// libFuzzer target: the .spruce loader, then a run on small inputs
// (load_and_run.h).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "load_and_run.h"

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
  spruce::fuzz::load_and_run(path);
  return 0;
}
