#ifndef SPRUCE_VERSION_H_
#define SPRUCE_VERSION_H_

namespace spruce {

constexpr int kVersionMajor = 0;
constexpr int kVersionMinor = 1;
constexpr int kVersionPatch = 0;
constexpr const char* kVersionString = "0.1.0";

}  // namespace spruce

#endif  // SPRUCE_VERSION_H_
