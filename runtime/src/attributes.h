// A node's parameters: named lists of integers and floats, as ONNX keeps
// them. Each op's file says which names it reads and checks them; the file
// format stores them as they are (spruce.fbs, Attribute), so an op with new
// parameters needs no new schema.
#ifndef SPRUCE_RUNTIME_ATTRIBUTES_H_
#define SPRUCE_RUNTIME_ATTRIBUTES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace spruce {

struct Attribute {
  std::string name;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  bool operator==(const Attribute& o) const {
    return name == o.name && ints == o.ints && floats == o.floats;
  }
};

class Attributes {
 public:
  // Each replaces an attribute of the same name.
  void set_int(const std::string& name, int64_t value) {
    set(name, {value}, {});
  }
  void set_ints(const std::string& name, std::vector<int64_t> values) {
    set(name, std::move(values), {});
  }
  void set_float(const std::string& name, float value) {
    set(name, {}, {value});
  }
  void set_floats(const std::string& name, std::vector<float> values) {
    set(name, {}, std::move(values));
  }
  void add(Attribute attribute) {
    set(attribute.name, std::move(attribute.ints), std::move(attribute.floats));
  }

  void erase(const std::string& name) {
    for (auto it = items_.begin(); it != items_.end(); ++it) {
      if (it->name == name) {
        items_.erase(it);
        return;
      }
    }
  }

  bool has(const std::string& name) const { return find(name) != nullptr; }
  // The integer `name`, or `fallback` if absent. Throws spruce::Error when
  // it is present but not one integer.
  int64_t get_int(const std::string& name, int64_t fallback) const;
  // `get_int` within [min, max]; throws spruce::Error outside.
  int64_t get_int_in(const std::string& name, int64_t fallback, int64_t min,
                     int64_t max) const;
  bool get_bool(const std::string& name) const {
    return get_int_in(name, 0, 0, 1) != 0;
  }
  // The integers `name` (empty if absent).
  const std::vector<int64_t>& get_ints(const std::string& name) const;
  // The float `name`, or `fallback` if absent; throws spruce::Error when it
  // is present but not one float.
  float get_float(const std::string& name, float fallback) const;
  const std::vector<float>& get_floats(const std::string& name) const;

  const std::vector<Attribute>& items() const { return items_; }
  bool operator==(const Attributes& o) const { return items_ == o.items_; }

 private:
  void set(const std::string& name, std::vector<int64_t> ints,
           std::vector<float> floats);
  const Attribute* find(const std::string& name) const {
    for (const Attribute& a : items_) {
      if (a.name == name) return &a;
    }
    return nullptr;
  }
  std::vector<Attribute> items_;  // few: a linear search beats a map
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_ATTRIBUTES_H_
