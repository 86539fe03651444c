// Bad inputs at the API: each gets a spruce::Error that names the problem,
// nothing is read out of bounds, and the engine keeps giving the same
// results afterwards.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "runtime/linear_model.h"
#include "spruce/converters/model_def.h"
#include "spruce/spruce.h"
#include "test_util.h"

namespace spruce {
namespace {

using converters::WeightDef;

// x[?, 6] -> Linear(W [4x6], b) -> y[?, 4], and an int64 input ids[?, 3]
// feeding nothing but checked all the same.
std::string tiny_model(const std::string& name, Shape x_shape = {-1, 6}) {
  WeightDef w;
  w.name = "w";
  w.shape = {4, 6};
  for (int i = 0; i < 24; ++i) {
    w.dense.push_back(0.1f * static_cast<float>(i % 7) - 0.3f);
  }
  return testing::write_linear_model(
      name, std::move(w), {0.1f, -0.2f, 0.3f, 0.0f}, kernels::Activation::kNone,
      std::move(x_shape), {{"ids", {-1, 3}, DataType::kInt64}});
}

std::string error_of(const Engine& engine, const std::vector<Input>& inputs) {
  try {
    engine.run(inputs);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(BadInputs, EachIsAClearErrorAndTheEngineStaysUsable) {
  const Engine engine = Engine::load(tiny_model("bad_inputs.spruce"));
  std::vector<float> x(2 * 6);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i));
  const std::vector<int64_t> ids(2 * 3, 5);
  const Input good_x{"x", x.data(), {2, 6}};
  Input good_ids{"ids", nullptr, {2, 3}};
  good_ids.int64_data = ids.data();
  const std::vector<float> expected =
      engine.run({good_x, good_ids})[0].values();

  std::vector<float> nan = x, inf = x;
  nan[7] = std::numeric_limits<float>::quiet_NaN();
  inf[3] = -std::numeric_limits<float>::infinity();
  Input float_for_int{"ids", x.data(), {2, 3}};
  Input int_for_float{"x", nullptr, {2, 6}};
  int_for_float.int64_data = ids.data();
  std::vector<int64_t> out_of_range = ids;
  out_of_range[4] = int64_t{1} << 40;
  Input big_id = good_ids;
  big_id.int64_data = out_of_range.data();
  const struct {
    const char* what;
    std::vector<Input> inputs;
    const char* expected;
  } cases[] = {
      {"unknown name",
       {{"z", x.data(), {2, 6}}, good_ids},
       "unknown input 'z'"},
      {"missing input", {good_x}, "missing input 'ids'"},
      {"given twice", {good_x, good_x, good_ids}, "given twice"},
      {"wrong rank", {{"x", x.data(), {12}}, good_ids}, "has shape [12]"},
      {"wrong static dim",
       {{"x", x.data(), {3, 4}}, good_ids},
       "the model expects [?, 6]"},
      {"empty batch", {{"x", x.data(), {0, 6}}, good_ids}, "any size >= 1"},
      {"null data", {{"x", nullptr, {2, 6}}, good_ids}, "no data"},
      {"NaN", {{"x", nan.data(), {2, 6}}, good_ids}, "NaN at position 7"},
      {"infinity",
       {{"x", inf.data(), {2, 6}}, good_ids},
       "infinity at position 3"},
      {"float for int64", {good_x, float_for_int}, "is int64"},
      {"int64 for float",
       {int_for_float, good_ids},
       "it is float32, not int64"},
      {"int64 out of range", {good_x, big_id}, "within ±2^24"},
      {"huge shape",
       {{"x", x.data(), {int64_t{1} << 40, 6}}, good_ids},
       "too large"},
  };
  for (const auto& c : cases) {
    const std::string error = error_of(engine, c.inputs);
    EXPECT_NE(error.find(c.expected), std::string::npos)
        << c.what << ": got '" << error << "'";
    // Still usable, and still right.
    EXPECT_EQ(engine.run({good_x, good_ids})[0].values(), expected) << c.what;
  }
}

// Integer and bool inputs come in their own types through Input::elements
// (int64 also through int64_data): a value beyond ±2^24, a bool byte other
// than 0 or 1 and a missing pointer are each refused by name.
TEST(BadInputs, TypedInputsAreCheckedByTheirType) {
  WeightDef w;
  w.name = "w";
  w.shape = {2, 2};
  w.dense = {1, 0, 0, 1};
  const Engine engine = Engine::load(
      testing::write_linear_model("typed_inputs.spruce", std::move(w), {},
                                  kernels::Activation::kNone, {-1, 2},
                                  {{"mask", {-1, 3}, DataType::kBool},
                                   {"tok", {-1, 3}, DataType::kInt32},
                                   {"ids", {-1, 3}, DataType::kUint64}}));
  ASSERT_EQ(engine.inputs().size(), 4u);
  EXPECT_STREQ(data_type_name(engine.inputs()[1].dtype), "bool");
  EXPECT_STREQ(data_type_name(engine.inputs()[2].dtype), "int32");
  EXPECT_STREQ(data_type_name(engine.inputs()[3].dtype), "uint64");
  const float x[] = {1.5f, -2.0f};
  const uint8_t mask[] = {0, 1, 1};
  const int32_t tok[] = {-7, 0, 1 << 24};
  const uint64_t ids[] = {0, 3, 9};
  auto with = [&](const void* m, const void* t, const void* i) {
    std::vector<Input> in = {{"x", x, {1, 2}},
                             {"mask", nullptr, {1, 3}},
                             {"tok", nullptr, {1, 3}},
                             {"ids", nullptr, {1, 3}}};
    in[1].elements = m;
    in[2].elements = t;
    in[3].elements = i;
    return in;
  };
  EXPECT_EQ(engine.run(with(mask, tok, ids))[0].values(),
            (std::vector<float>{1.5f, -2.0f}));
  const uint8_t bad_mask[] = {0, 2, 1};
  const int32_t big_tok[] = {0, -(1 << 25), 1};
  const uint64_t big_id[] = {0, uint64_t{1} << 63, 1};
  const struct {
    const char* what;
    std::vector<Input> inputs;
    const char* expected;
  } cases[] = {
      {"bool byte 2", with(bad_mask, tok, ids),
       "input 'mask' has byte 2 at position 1; a bool is 0 or 1"},
      {"int32 beyond 2^24", with(mask, big_tok, ids),
       "input 'tok' has value -33554432 at position 1"},
      {"uint64 beyond 2^24", with(mask, tok, big_id),
       "input 'ids' has value 9223372036854775808 at position 1"},
      {"no elements", with(mask, nullptr, ids),
       "input 'tok' is int32: pass its values in Input::elements"},
  };
  for (const auto& c : cases) {
    const std::string error = error_of(engine, c.inputs);
    EXPECT_NE(error.find(c.expected), std::string::npos)
        << c.what << ": got '" << error << "'";
  }
}

TEST(BadInputs, NonFiniteValuesPropagateWhenAllowed) {
  EngineOptions options;
  options.reject_non_finite_inputs = false;
  const Engine engine = Engine::load(tiny_model("nan_allowed.spruce"), options);
  std::vector<float> x(6, 1.0f);
  x[2] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<int64_t> ids(3, 1);
  Input id_input{"ids", nullptr, {1, 3}};
  id_input.int64_data = ids.data();
  const auto out = engine.run({{"x", x.data(), {1, 6}}, id_input});
  bool any_nan = false;
  for (float v : out[0].values()) any_nan = any_nan || std::isnan(v);
  EXPECT_TRUE(any_nan);
}

// A file declaring a 2^40-element tensor is refused at load, before anything
// of that size is allocated.
TEST(BadInputs, HugeDeclaredShapesAreRefusedAtLoad) {
  const std::string path = tiny_model("huge_declared.spruce",
                                      {int64_t{1} << 20, int64_t{1} << 20, 6});
  try {
    Engine::load(path);
    FAIL() << "a 2^40-element tensor loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than"), std::string::npos)
        << e.what();
  }
}

// A model file replaced while an engine has it mapped (a new file renamed
// over it, as `spruce convert` writes): the engine keeps the old file's
// bytes and results. (Truncating or rewriting the mapped file in place is
// not survivable: README, Limits.)
TEST(BadInputs, ReplacingTheFileByRenameLeavesALoadedEngineIntact) {
  const std::string path = tiny_model("replaced.spruce");
  const Engine engine = Engine::load(path);
  std::vector<float> x(6, 0.5f);
  const std::vector<int64_t> ids(3, 1);
  Input id_input{"ids", nullptr, {1, 3}};
  id_input.int64_data = ids.data();
  const std::vector<Input> inputs = {{"x", x.data(), {1, 6}}, id_input};
  const std::vector<float> before = engine.run(inputs)[0].values();
  const std::string other = tiny_model("replacement.spruce", {-1, 6});
  {
    std::ofstream garbage(other, std::ios::binary | std::ios::trunc);
    garbage << "not a model any more";
  }
  ASSERT_EQ(std::rename(other.c_str(), path.c_str()), 0);
  EXPECT_EQ(engine.run(inputs)[0].values(), before);
  EXPECT_THROW(Engine::load(path), Error);  // the new file is what loads now
}

}  // namespace
}  // namespace spruce
