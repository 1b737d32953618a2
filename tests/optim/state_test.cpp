// save_state / load_state of both optimizers: exact resumption and rejection of foreign or damaged
// bytes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>

#include "core/error.hpp"
#include "optim/adam.hpp"
#include "optim/sgd.hpp"
#include "optim_test_util.hpp"

namespace krill::optim {
namespace {

using ::testing::AllOf;
using testing::fill_grads;
using ::testing::HasSubstr;
using testing::pointers;
using testing::two_params;

using Factory = std::function<std::unique_ptr<Optimizer>(std::vector<nn::Parameter*>)>;

struct Case {
  const char* name;
  Factory make;
  bool has_buffers;  // plain SGD has none: its state is steps and lr only
};

std::unique_ptr<Optimizer> make_sgd(std::vector<nn::Parameter*> p) {
  return std::make_unique<Sgd>(
      std::move(p), SgdOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
}
std::unique_ptr<Optimizer> make_plain_sgd(std::vector<nn::Parameter*> p) {
  return std::make_unique<Sgd>(std::move(p), SgdOptions{.lr = 0.1});
}
std::unique_ptr<Optimizer> make_adam(std::vector<nn::Parameter*> p) {
  return std::make_unique<Adam>(std::move(p), AdamOptions{.lr = 0.01, .weight_decay = 0.001});
}

void run(Optimizer& opt, std::vector<nn::Parameter>& params, int first_step, int steps) {
  for (int s = first_step; s < first_step + steps; ++s) {
    fill_grads(params, s);
    opt.step();
  }
}

std::vector<uint8_t> state_of(const Optimizer& opt) {
  BinaryWriter out;
  opt.save_state(out);
  return out.take();
}

void load(Optimizer& opt, const std::vector<uint8_t>& bytes) {
  BinaryReader in(bytes, "state");
  opt.load_state(in);
}

bool bit_identical(const std::vector<nn::Parameter>& a, const std::vector<nn::Parameter>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    const auto x = a[i].value.values();
    const auto y = b[i].value.values();
    if (x.size() != y.size() || std::memcmp(x.data(), y.data(), x.size_bytes()) != 0) return false;
  }
  return true;
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class OptimizerState : public ::testing::TestWithParam<Case> {};

TEST_P(OptimizerState, LoadedIntoAFreshOptimizerResumesBitIdentically) {
  auto params = two_params();
  auto original = GetParam().make(pointers(params));
  run(*original, params, 0, 3);
  original->set_lr(0.05);
  const auto bytes = state_of(*original);

  auto copy = params;  // the member's parameters, copied as a checkpoint would restore them
  auto resumed = GetParam().make(pointers(copy));
  load(*resumed, bytes);
  EXPECT_EQ(resumed->steps(), 3);
  EXPECT_EQ(resumed->lr(), 0.05);

  auto fresh_copy = params;  // without the state: must diverge, or the test proves nothing
  auto fresh = GetParam().make(pointers(fresh_copy));
  fresh->set_lr(0.05);

  run(*original, params, 3, 4);
  run(*resumed, copy, 3, 4);
  run(*fresh, fresh_copy, 3, 4);
  EXPECT_TRUE(bit_identical(params, copy));
  if (GetParam().has_buffers) {
    EXPECT_FALSE(bit_identical(params, fresh_copy));
  }
  EXPECT_EQ(state_of(*original), state_of(*resumed));
}

TEST_P(OptimizerState, TruncatedBytesThrowDataErrorSayingTruncated) {
  auto params = two_params();
  auto opt = GetParam().make(pointers(params));
  run(*opt, params, 0, 2);
  const auto bytes = state_of(*opt);
  for (size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE("first " + std::to_string(n) + " of " + std::to_string(bytes.size()) + " bytes");
    auto target = GetParam().make(pointers(params));
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    try {
      load(*target, cut);
      ADD_FAILURE() << "no exception";
    } catch (const DataError& e) {
      EXPECT_THAT(e.what(), HasSubstr("truncated"));
    }
    EXPECT_EQ(target->steps(), 0);  // nothing committed
  }
}

// Plain SGD is left out: it keeps no buffers, so its state records no shapes.
TEST(OptimizerStateShapes, RejectsStateOfParametersOfOtherShapes) {
  for (const Factory& make : {Factory(make_sgd), Factory(make_adam)}) {
    auto params = two_params();
    auto opt = make(pointers(params));
    SCOPED_TRACE(opt->name());
    run(*opt, params, 0, 1);
    const auto bytes = state_of(*opt);

    auto other = two_params();
    other[1] = testing::make_param("0.bias", Shape{4}, std::vector<float>{1, 2, 3, 4});
    auto target = make(pointers(other));
    try {
      load(*target, bytes);
      ADD_FAILURE() << "no exception";
    } catch (const DataError& e) {
      EXPECT_THAT(e.what(), AllOf(HasSubstr("0.bias"), HasSubstr("[3]"), HasSubstr("[4]")));
    }
    EXPECT_EQ(target->steps(), 0);
  }
}

TEST_P(OptimizerState, RejectsStateOfAnotherParameterCount) {
  auto params = two_params();
  auto opt = GetParam().make(pointers(params));
  const auto bytes = state_of(*opt);
  auto target = GetParam().make(std::vector<nn::Parameter*>{&params[0]});
  try {
    load(*target, bytes);
    ADD_FAILURE() << "no exception";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("2 parameters"), HasSubstr("has 1")));
  }
}

INSTANTIATE_TEST_SUITE_P(Optimizers, OptimizerState,
                         ::testing::Values(Case{"SgdNesterov", make_sgd, true},
                                           Case{"SgdPlain", make_plain_sgd, false},
                                           Case{"Adam", make_adam, true}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(OptimizerStateNames, SgdStateIntoAdamThrowsNamingBoth) {
  auto params = two_params();
  auto sgd = make_sgd(pointers(params));
  auto adam = make_adam(pointers(params));
  try {
    load(*adam, state_of(*sgd));
    ADD_FAILURE() << "no exception";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("checkpoint holds optimizer state of 'sgd', this optimizer is "
                                    "'adam'"));
  }
}

TEST(OptimizerStateNames, AdamStateIntoSgdThrowsNamingBoth) {
  auto params = two_params();
  auto adam = make_adam(pointers(params));
  auto sgd = make_sgd(pointers(params));
  try {
    load(*sgd, state_of(*adam));
    ADD_FAILURE() << "no exception";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("'adam'"), HasSubstr("'sgd'")));
  }
}

TEST(SgdState, RejectsMomentumMismatchBothWays) {
  auto params = two_params();
  auto with = make_sgd(pointers(params));
  auto without = make_plain_sgd(pointers(params));
  EXPECT_THROW(load(*without, state_of(*with)), DataError);
  try {
    load(*with, state_of(*without));
    ADD_FAILURE() << "no exception";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("without momentum"), HasSubstr("momentum 0.9")));
  }
}

TEST(SgdState, PlainSgdStateHoldsNoBuffers) {
  auto params = two_params();
  auto plain = make_plain_sgd(pointers(params));
  auto momentum = make_sgd(pointers(params));
  // name + steps + lr + count + velocity flag, versus the same plus two tensors.
  EXPECT_EQ(state_of(*plain).size(), 4 + 3 + 8 + 8 + 8 + 1);
  EXPECT_GT(state_of(*momentum).size(), state_of(*plain).size());
}

}  // namespace
}  // namespace krill::optim
