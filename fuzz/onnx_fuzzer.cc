// libFuzzer target: the ONNX importer (import, fold, fuse, choose formats).
// Any input must give a model or a spruce::Error, never a crash, a sanitizer
// report or an unbounded allocation.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "spruce/converters/onnx_import.h"
#include "spruce/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path =
      "/tmp/spruce_onnx_fuzz_" + std::to_string(getpid()) + ".onnx";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    spruce::converters::ConversionReport report;
    spruce::converters::import_onnx(path, {}, &report);
  } catch (const spruce::Error&) {
  }
  return 0;
}
