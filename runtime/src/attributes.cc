#include "attributes.h"

#include "spruce/error.h"

namespace spruce {

void Attributes::set(const std::string& name, std::vector<int64_t> ints,
                     std::vector<float> floats) {
  for (Attribute& a : items_) {
    if (a.name == name) {
      a.ints = std::move(ints);
      a.floats = std::move(floats);
      return;
    }
  }
  items_.push_back({name, std::move(ints), std::move(floats)});
}

int64_t Attributes::get_int(const std::string& name, int64_t fallback) const {
  const Attribute* a = find(name);
  if (a == nullptr) return fallback;
  if (a->ints.size() != 1 || !a->floats.empty()) {
    throw Error("attribute '" + name + "' must be one integer");
  }
  return a->ints[0];
}

int64_t Attributes::get_int_in(const std::string& name, int64_t fallback,
                               int64_t min, int64_t max) const {
  const int64_t v = get_int(name, fallback);
  if (v < min || v > max) {
    throw Error("attribute '" + name + "' is " + std::to_string(v) +
                " (allowed " + std::to_string(min) + " to " +
                std::to_string(max) + ")");
  }
  return v;
}

const std::vector<int64_t>& Attributes::get_ints(
    const std::string& name) const {
  static const std::vector<int64_t> kNone;
  const Attribute* a = find(name);
  if (a == nullptr) return kNone;
  if (!a->floats.empty()) {
    throw Error("attribute '" + name + "' must hold integers");
  }
  return a->ints;
}

float Attributes::get_float(const std::string& name, float fallback) const {
  const Attribute* a = find(name);
  if (a == nullptr) return fallback;
  if (a->floats.size() != 1 || !a->ints.empty()) {
    throw Error("attribute '" + name + "' must be one float");
  }
  return a->floats[0];
}

const std::vector<float>& Attributes::get_floats(
    const std::string& name) const {
  static const std::vector<float> kNone;
  const Attribute* a = find(name);
  if (a == nullptr) return kNone;
  if (!a->ints.empty()) {
    throw Error("attribute '" + name + "' must hold floats");
  }
  return a->floats;
}

}  // namespace spruce
