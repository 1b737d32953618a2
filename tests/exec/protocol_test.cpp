// The manager/worker protocol (exec/mpi/protocol.hpp): every message survives encode and decode
// unchanged (doubles to the bit), the layout is the one written down (a golden encoding), and
// bytes that are not a message of this version are refused with a ProtocolError naming the sender
// and what was wrong: never a crash, never a huge allocation.
#include "exec/mpi/protocol.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "common/allocation_counter.hpp"

namespace krill::exec::mpi {
namespace {

using ::testing::HasSubstr;
using Bytes = std::vector<uint8_t>;
// Messages are spelled mpi::Run here: inside a TEST, a bare `Run` is testing::Test::Run.

constexpr const char* kSource = "message from rank 3";

uint64_t bits(double d) {
  return std::bit_cast<uint64_t>(d);
}

// Doubles compared bit for bit: NaN equals the same NaN, -0.0 differs from 0.0.
void expect_same_bits(double got, double want, const std::string& what) {
  EXPECT_EQ(bits(got), bits(want)) << what << ": got " << got << ", want " << want;
}

void expect_same(const std::map<std::string, double>& got,
                 const std::map<std::string, double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (auto g = got.begin(), w = want.begin(); g != got.end(); ++g, ++w) {
    EXPECT_EQ(g->first, w->first) << what;
    expect_same_bits(g->second, w->second, what + "[" + w->first + "]");
  }
}

void expect_same(const hpo::Params& got, const hpo::Params& want) {
  ASSERT_EQ(got.size(), want.size());
  for (auto g = got.begin(), w = want.begin(); g != got.end(); ++g, ++w) {
    EXPECT_EQ(g->first, w->first);
    ASSERT_EQ(g->second.index(), w->second.index()) << w->first;
    if (const auto* d = std::get_if<double>(&w->second)) {
      expect_same_bits(std::get<double>(g->second), *d, "params[" + w->first + "]");
    } else {
      EXPECT_EQ(g->second, w->second) << w->first;
    }
  }
}

// The ProtocolError's message of decoding `bytes`; fails the test if nothing or another type is
// thrown.
std::string decode_error(const Bytes& bytes, const std::string& source = kSource) {
  try {
    const Message m = decode(bytes, source);
    ADD_FAILURE() << "expected ProtocolError, decoded a " << name_of(m);
  } catch (const ProtocolError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ProtocolError, got another exception: " << e.what();
  }
  return {};
}

Bytes header(uint8_t type, uint8_t version = kProtocolVersion) {
  return {'K', 'M', version, type};
}

void put_u32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_string(Bytes& b, const std::string& s) {
  put_u32(b, static_cast<uint32_t>(s.size()));
  b.insert(b.end(), s.begin(), s.end());
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
// A NaN with a payload and the sign bit set, and a signalling NaN: kept as they are.
const double kOddNaN = std::bit_cast<double>(uint64_t{0xFFF8000000ABCDEF});
const double kSignallingNaN = std::bit_cast<double>(uint64_t{0x7FF0000000000001});

mpi::Run sample_run() {
  return mpi::Run{.trial = std::numeric_limits<int64_t>::max(),
                  .params = {{"lr", 0.001},
                             {"momentum", -0.0},
                             {"nan", kOddNaN},
                             {"batch", int64_t{-9'000'000'000'000'000'000}},
                             {"width", int64_t{64}},
                             {"activation", std::string("relu")},
                             {"empty", std::string()},
                             {"unicode", std::string("Größe λ 学习率 🦐")},
                             {"", std::string("an empty name")},
                             {"with\0nul", std::string("a\0b", 3)}}};
}

ReportMsg sample_report() {
  return ReportMsg{.trial = 17,
                   .step = std::numeric_limits<int64_t>::min(),
                   .value = kSignallingNaN,
                   .metrics = {{"lr", 1e-300},
                               {"train_loss", kInf},
                               {"val_loss", -kInf},
                               {"zero", -0.0},
                               {"denormal", std::numeric_limits<double>::denorm_min()},
                               {"nan", kNaN}}};
}

Decision sample_decision() {
  Decision d;
  d.trial = 5;
  d.step = 300;
  d.action = Action::Stop;
  d.reason = "LCM: predicted 0.41 < 0.87 ✗";
  return d;
}

Decision sample_exploit() {
  return Decision{.trial = 6,
                  .step = 400,
                  .action = Action::Exploit,
                  .reason = "pbt: rank 8 of 8 at step 400 (bottom 2): copies trial 2 (rank 1)",
                  .donor = 2,
                  .donor_step = 400,
                  .donor_rank = 3,
                  .params = {{"lr", 0.012}, {"momentum", 0.9}, {"schedule", std::string("step")}}};
}

Result sample_result() {
  return Result{.trial = -1,
                .outcome = Outcome::Diverged,
                .value = -kInf,
                .error = "loss is NaN at iteration 120\nsecond line",
                .attrs = {{"iterations", 120}, {"seconds", 3.25}, {"peak", kNaN}}};
}

Weights sample_weights() {
  Weights w{.trial = 1'000'000'007, .bytes = Bytes(3 * 1024 * 1024 + 5)};
  for (size_t i = 0; i < w.bytes.size(); ++i) w.bytes[i] = static_cast<uint8_t>(i * 131 + 7);
  return w;
}

// One message of every type, with content (each decodes to itself).
std::vector<Message> every_message() {
  return {Ask{},
          sample_run(),
          sample_report(),
          sample_decision(),
          sample_result(),
          ResultAck{.trial = 12, .send_weights = true},
          Weights{.trial = 2, .bytes = {0, 1, 0xFF, 'K', 'M'}},
          Shutdown{},
          Give{.trial = 3, .step = 100, .to = 4},
          State{.trial = 3, .step = 100, .bytes = {'K', 'R', 0, 0xFE}},
          sample_exploit()};
}

Message round_trip(const Message& m) {
  const Bytes bytes = encode(m);
  Message back = decode(bytes, kSource);
  EXPECT_EQ(back.index(), m.index()) << name_of(m);
  EXPECT_EQ(encode(back), bytes) << name_of(m) << ": encodes to other bytes after decoding";
  return back;
}

TEST(Protocol, NameOfEveryMessageType) {
  EXPECT_EQ(name_of(Ask{}), "Ask");
  EXPECT_EQ(name_of(mpi::Run{}), "Run");
  EXPECT_EQ(name_of(ReportMsg{}), "ReportMsg");
  EXPECT_EQ(name_of(Decision{}), "Decision");
  EXPECT_EQ(name_of(Result{}), "Result");
  EXPECT_EQ(name_of(ResultAck{}), "ResultAck");
  EXPECT_EQ(name_of(Weights{}), "Weights");
  EXPECT_EQ(name_of(Shutdown{}), "Shutdown");
}

TEST(Protocol, EveryMessageStartsWithMagicVersionAndItsType) {
  for (const Message& m : every_message()) {
    const Bytes bytes = encode(m);
    ASSERT_GE(bytes.size(), 4u) << name_of(m);
    EXPECT_EQ(bytes[0], 'K');
    EXPECT_EQ(bytes[1], 'M');
    EXPECT_EQ(bytes[2], kProtocolVersion);
    EXPECT_EQ(bytes[3], m.index()) << name_of(m);
  }
}

TEST(Protocol, AskAndShutdownAreJustTheHeader) {
  EXPECT_EQ(encode(Ask{}), header(0));
  EXPECT_EQ(encode(Shutdown{}), header(7));
  EXPECT_TRUE(std::holds_alternative<Ask>(decode(header(0), kSource)));
  EXPECT_TRUE(std::holds_alternative<Shutdown>(decode(header(7), kSource)));
}

TEST(Protocol, RunRoundTripsParamsOfEveryKind) {
  const mpi::Run sent = sample_run();
  const mpi::Run got = std::get<mpi::Run>(round_trip(sent));
  EXPECT_EQ(got.trial, sent.trial);
  expect_same(got.params, sent.params);
  EXPECT_EQ(std::get<std::string>(got.params.at("unicode")), "Größe λ 学习率 🦐");
  EXPECT_EQ(std::get<std::string>(got.params.at(std::string("with\0nul"))).size(), 3u);
  EXPECT_TRUE(std::signbit(std::get<double>(got.params.at("momentum"))));

  const mpi::Run empty = std::get<mpi::Run>(round_trip(mpi::Run{.trial = 0, .params = {}}));
  EXPECT_EQ(empty.trial, 0);
  EXPECT_TRUE(empty.params.empty());
}

TEST(Protocol, ReportRoundTripsDoublesBitForBit) {
  const ReportMsg sent = sample_report();
  const ReportMsg got = std::get<ReportMsg>(round_trip(sent));
  EXPECT_EQ(got.trial, sent.trial);
  EXPECT_EQ(got.step, sent.step);
  expect_same_bits(got.value, sent.value, "value");
  expect_same(got.metrics, sent.metrics, "metrics");

  const ReportMsg bare =
      std::get<ReportMsg>(round_trip(ReportMsg{.trial = 1, .step = 2, .value = 0, .metrics = {}}));
  EXPECT_EQ(bare.step, 2);
  EXPECT_TRUE(bare.metrics.empty());
}

TEST(Protocol, DecisionRoundTripsEveryAction) {
  for (const Decision& sent : {sample_decision(), sample_exploit(),
                               Decision{.trial = -3,
                               .step = 0,
                               .action = Action::Continue,
                               .reason = "",
                               .donor = -1,
                               .donor_step = -1,
                               .donor_rank = -1,
                               .params = {}}}) {
    const Decision got = std::get<Decision>(round_trip(sent));
    EXPECT_EQ(got.trial, sent.trial);
    EXPECT_EQ(got.step, sent.step);
    EXPECT_EQ(got.action, sent.action);
    EXPECT_EQ(got.reason, sent.reason);
    EXPECT_EQ(got.donor, sent.donor);
    EXPECT_EQ(got.donor_step, sent.donor_step);
    EXPECT_EQ(got.donor_rank, sent.donor_rank);
    expect_same(got.params, sent.params);
  }
}

TEST(Protocol, GiveAndStateRoundTrip) {
  const Give give = std::get<Give>(round_trip(Give{.trial = 2, .step = 400, .to = 7}));
  EXPECT_EQ(give.trial, 2);
  EXPECT_EQ(give.step, 400);
  EXPECT_EQ(give.to, 7);
  State sent{.trial = 2, .step = 400, .bytes = Bytes(70'001)};
  for (size_t i = 0; i < sent.bytes.size(); ++i) sent.bytes[i] = static_cast<uint8_t>(i * 7 + 1);
  const State got = std::get<State>(round_trip(sent));
  EXPECT_EQ(got.trial, 2);
  EXPECT_EQ(got.step, 400);
  EXPECT_EQ(got.bytes, sent.bytes);
  EXPECT_EQ(name_of(got), "State");
  EXPECT_EQ(name_of(Message{Give{}}), "Give");
}

TEST(Protocol, ActionMustBeKnown) {
  Decision stop = sample_decision();
  stop.trial = 1;
  stop.step = 2;
  Bytes decision = encode(stop);
  for (uint8_t b : {uint8_t{3}, uint8_t{255}}) {
    decision[4 + 16] = b;
    EXPECT_THAT(decode_error(decision),
                HasSubstr("Decision.action: " + std::to_string(b) + " is not an action"));
  }
}

TEST(Protocol, ResultRoundTripsEveryOutcome) {
  std::vector<Result> sent = {
      sample_result(),
      Result{.trial = 4, .outcome = Outcome::Returned, .value = 0.875, .error = "", .attrs = {}},
      Result{.trial = 5,
             .outcome = Outcome::Threw,
             .value = kNaN,
             .error = std::string(100'000, 'e'),
             .attrs = {}}};
  for (const Result& s : sent) {
    const Result got = std::get<Result>(round_trip(s));
    EXPECT_EQ(got.trial, s.trial);
    EXPECT_EQ(got.outcome, s.outcome);
    expect_same_bits(got.value, s.value, "value");
    EXPECT_EQ(got.error, s.error);
    expect_same(got.attrs, s.attrs, "attrs");
  }
}

TEST(Protocol, ResultAckRoundTrips) {
  for (bool send : {false, true}) {
    const ResultAck got =
        std::get<ResultAck>(round_trip(ResultAck{.trial = 1LL << 40, .send_weights = send}));
    EXPECT_EQ(got.trial, 1LL << 40);
    EXPECT_EQ(got.send_weights, send);
  }
}

TEST(Protocol, WeightsRoundTripLargeAndEmpty) {
  const Weights sent = sample_weights();
  const Weights got = std::get<Weights>(round_trip(sent));
  EXPECT_EQ(got.trial, sent.trial);
  EXPECT_EQ(got.bytes, sent.bytes);

  const Weights none = std::get<Weights>(round_trip(Weights{.trial = 3, .bytes = {}}));
  EXPECT_EQ(none.trial, 3);
  EXPECT_TRUE(none.bytes.empty());
}

// The layout written out by hand, so that an accidental change of it fails here (a manager and
// workers of different builds must agree; a change of layout must bump kProtocolVersion).
TEST(Protocol, GoldenEncodingOfARun) {
  const mpi::Run run{.trial = 2,
                     .params = {{"lr", 0.5}, {"act", std::string("tanh")}, {"n", int64_t{-1}}}};
  // clang-format off
  const Bytes expected = {
      'K', 'M', 2, 1,                                  // "KM", version 2, type 1 (Run: index 1)
      2, 0, 0, 0, 0, 0, 0, 0,                          // trial: i64 2, little-endian
      3, 0, 0, 0,                                      // params: u32 count 3; entries by name
      3, 0, 0, 0, 'a', 'c', 't',                       // name "act": u32 length 3 + bytes
      2,                                               //   kind 2 (string)
      4, 0, 0, 0, 't', 'a', 'n', 'h',                  //   value "tanh"
      2, 0, 0, 0, 'l', 'r',                            // name "lr"
      0,                                               //   kind 0 (float)
      0, 0, 0, 0, 0, 0, 0xE0, 0x3F,                    //   0.5 = 0x3FE0000000000000, little-endian
      1, 0, 0, 0, 'n',                                 // name "n"
      1,                                               //   kind 1 (integer)
      0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  //   -1: i64, two's complement
  };
  // clang-format on
  EXPECT_EQ(encode(run), expected);
  const mpi::Run back = std::get<mpi::Run>(decode(expected, kSource));
  EXPECT_EQ(back.trial, 2);
  expect_same(back.params, run.params);
}

// The other messages' fields after the header, by hand too (shorter: one line per field).
TEST(Protocol, GoldenEncodingOfTheOtherMessages) {
  Bytes report = header(2);
  put_u64(report, 7);            // trial
  put_u64(report, 100);          // step
  put_u64(report, bits(0.25));   // value
  put_u32(report, 1);            // metrics: 1 entry
  put_string(report, "lr");      //   name
  put_u64(report, bits(0.125));  //   value
  report.push_back(1);           // last
  EXPECT_EQ(encode(ReportMsg{
                .trial = 7, .step = 100, .value = 0.25, .metrics = {{"lr", 0.125}}, .last = true}),
            report);

  Bytes decision = header(3);
  put_u64(decision, 7);          // trial
  put_u64(decision, 100);        // step
  decision.push_back(2);         // action: exploit
  put_string(decision, "pbt");   // reason
  put_u64(decision, 3);          // donor
  put_u64(decision, 100);        // donor_step
  put_u64(decision, 4);          // donor_rank
  put_u32(decision, 1);          // params: 1 entry
  put_string(decision, "lr");    //   name
  decision.push_back(0);         //   kind: float
  put_u64(decision, bits(0.5));  //   value
  EXPECT_EQ(encode(Decision{.trial = 7,
                            .step = 100,
                            .action = Action::Exploit,
                            .reason = "pbt",
                            .donor = 3,
                            .donor_step = 100,
                            .donor_rank = 4,
                            .params = {{"lr", 0.5}}}),
            decision);

  Bytes give = header(8);
  put_u64(give, 3);    // trial
  put_u64(give, 100);  // step
  put_u64(give, 5);    // to
  EXPECT_EQ(encode(Give{.trial = 3, .step = 100, .to = 5}), give);

  Bytes state = header(9);
  put_u64(state, 3);    // trial
  put_u64(state, 100);  // step
  put_u32(state, 2);    // bytes: 2
  state.push_back(0xAB);
  state.push_back(0xCD);
  EXPECT_EQ(encode(State{.trial = 3, .step = 100, .bytes = {0xAB, 0xCD}}), state);

  Bytes result = header(4);
  put_u64(result, 7);          // trial
  result.push_back(1);         // outcome Threw
  put_u64(result, bits(0.0));  // value
  put_string(result, "boom");  // error
  put_u32(result, 0);          // attrs: none
  EXPECT_EQ(encode(Result{
                .trial = 7, .outcome = Outcome::Threw, .value = 0, .error = "boom", .attrs = {}}),
            result);

  Bytes ack = header(5);
  put_u64(ack, 7);   // trial
  ack.push_back(0);  // send_weights
  EXPECT_EQ(encode(ResultAck{.trial = 7, .send_weights = false}), ack);

  Bytes weights = header(6);
  put_u64(weights, 7);  // trial
  put_u32(weights, 2);  // byte count
  weights.push_back(0xAA);
  weights.push_back(0xBB);
  EXPECT_EQ(encode(Weights{.trial = 7, .bytes = {0xAA, 0xBB}}), weights);
}

// ---- refused input -------------------------------------------------------------------------

TEST(Protocol, EmptyBytesAreRefused) {
  const std::string msg = decode_error({});
  EXPECT_THAT(msg, HasSubstr(kSource));
  EXPECT_THAT(msg, HasSubstr("truncated"));
  EXPECT_THAT(msg, HasSubstr("magic"));
}

TEST(Protocol, WrongMagicIsRefused) {
  Bytes bytes = encode(Ask{});
  bytes[1] = 'X';
  const std::string msg = decode_error(bytes, "message from rank 12");
  EXPECT_THAT(msg, HasSubstr("message from rank 12"));
  EXPECT_THAT(msg, HasSubstr("not a krill message"));
  EXPECT_THAT(msg, HasSubstr("0x4b 0x58"));  // what came
  EXPECT_THAT(msg, HasSubstr("\"KM\""));     // what was expected
}

TEST(Protocol, AnotherVersionIsRefusedNamingBoth) {
  for (uint8_t version : {uint8_t{0}, uint8_t{1}, uint8_t{3}, uint8_t{255}}) {
    const std::string msg = decode_error(header(0, version));
    EXPECT_THAT(msg, HasSubstr(kSource));
    EXPECT_THAT(msg, HasSubstr("protocol version " + std::to_string(version) + ", expected 2"));
    EXPECT_THAT(msg, HasSubstr("another version"));
  }
}

TEST(Protocol, UnknownTypeIsRefusedNamingIt) {
  for (uint8_t type : {uint8_t{10}, uint8_t{200}, uint8_t{255}}) {
    const std::string msg = decode_error(header(type));
    EXPECT_THAT(msg, HasSubstr(kSource));
    EXPECT_THAT(msg, HasSubstr("unknown message type " + std::to_string(type)));
    EXPECT_THAT(msg, HasSubstr("0..9"));
  }
}

TEST(Protocol, EveryStrictPrefixOfEveryMessageIsRefused) {
  for (const Message& m : every_message()) {
    const Bytes bytes = encode(m);
    for (size_t n = 0; n < bytes.size(); ++n) {
      const std::string msg = decode_error(Bytes(bytes.begin(), bytes.begin() + n));
      ASSERT_THAT(msg, HasSubstr(kSource)) << name_of(m) << ", first " << n << " bytes";
      ASSERT_THAT(msg, HasSubstr("truncated")) << name_of(m) << ", first " << n << " bytes";
    }
  }
}

TEST(Protocol, TruncationNamesTheMessageAndField) {
  const Bytes bytes = encode(sample_run());
  const std::string msg = decode_error(Bytes(bytes.begin(), bytes.begin() + 14));
  EXPECT_THAT(msg, HasSubstr("message from rank 3: truncated: Run.params"));
  EXPECT_THAT(msg, HasSubstr("needs 4 bytes, only 2 left"));
}

TEST(Protocol, EveryPrefixOfLargeWeightsIsRefusedWithoutCopyingThem) {
  // Weights are the one large message: spot-check prefixes across the byte string.
  const Bytes bytes = encode(sample_weights());
  for (size_t n :
       {size_t{12}, size_t{13}, size_t{15}, size_t{16}, bytes.size() / 2, bytes.size() - 1}) {
    std::string msg;
    size_t largest = 0;
    {
      const Bytes prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      testing::AllocationCounter counter;
      msg = decode_error(prefix);
      largest = counter.largest();
    }
    EXPECT_THAT(msg, HasSubstr("truncated")) << n;
    EXPECT_THAT(msg, HasSubstr("Weights")) << n;
    EXPECT_LT(largest, size_t{4096}) << n;
  }
}

TEST(Protocol, TrailingBytesAreRefused) {
  for (const Message& m : every_message()) {
    Bytes bytes = encode(m);
    bytes.push_back(0);
    const std::string msg = decode_error(bytes);
    EXPECT_THAT(msg, HasSubstr(kSource)) << name_of(m);
    EXPECT_THAT(msg, HasSubstr("1 trailing byte(s) after a complete " + name_of(m))) << msg;
  }
}

// A count that the remaining bytes cannot hold is refused before anything is allocated or looped
// over: 4 billion map entries, strings or weights of 4 GiB, in a message of a few bytes.
TEST(Protocol, HugeCountsAreRefusedWithoutAllocating) {
  struct Case {
    const char* what;
    Bytes bytes;
    const char* field;
  };
  std::vector<Case> cases;
  for (uint32_t count : {0xFFFFFFFFu, 0x80000000u, 1000u}) {
    Bytes run = header(1);
    put_u64(run, 1);
    put_u32(run, count);  // params
    put_string(run, "lr");
    cases.push_back({"Run params count", run, "Run.params promises"});

    Bytes name = header(1);
    put_u64(name, 1);
    put_u32(name, 1);
    put_u32(name, count);               // the first name's length
    name.insert(name.end(), 64, 0xAB);  // bytes, not enough for `count`
    cases.push_back({"Run params name length", name, "Run.params name"});

    Bytes value = header(1);
    put_u64(value, 1);
    put_u32(value, 1);
    put_string(value, "act");
    value.push_back(2);
    put_u32(value, count);                // the string value's length
    value.insert(value.end(), 64, 0xAB);  // bytes, not enough for `count`
    cases.push_back({"Run params string length", value, "Run.params string value"});

    Bytes report = header(2);
    put_u64(report, 1);
    put_u64(report, 2);
    put_u64(report, bits(0.5));
    put_u32(report, count);  // metrics
    put_u64(report, 0);
    cases.push_back({"ReportMsg metrics count", report, "ReportMsg.metrics promises"});

    Bytes reason = header(3);
    put_u64(reason, 1);
    put_u64(reason, 2);
    reason.push_back(0);
    put_u32(reason, count);                 // reason's length
    reason.insert(reason.end(), 64, 0xAB);  // bytes, not enough for `count`
    cases.push_back({"Decision reason length", reason, "Decision.reason"});

    Bytes result = header(4);
    put_u64(result, 1);
    result.push_back(0);
    put_u64(result, bits(0.5));
    put_string(result, "");
    put_u32(result, count);  // attrs
    cases.push_back({"Result attrs count", result, "Result.attrs promises"});

    Bytes error = header(4);
    put_u64(error, 1);
    error.push_back(1);
    put_u64(error, bits(0.5));
    put_u32(error, count);                // error's length
    error.insert(error.end(), 64, 0xAB);  // bytes, not enough for `count`
    cases.push_back({"Result error length", error, "Result.error"});

    Bytes weights = header(6);
    put_u64(weights, 1);
    put_u32(weights, count);  // byte count
    weights.insert(weights.end(), 64, 0xAB);
    cases.push_back({"Weights byte count", weights, "Weights.bytes"});
  }
  for (const Case& c : cases) {
    std::string msg;
    size_t largest = 0;
    {
      testing::AllocationCounter counter;
      msg = decode_error(c.bytes);
      largest = counter.largest();
    }
    EXPECT_THAT(msg, HasSubstr(kSource)) << c.what;
    EXPECT_THAT(msg, HasSubstr("truncated")) << c.what;
    EXPECT_THAT(msg, HasSubstr(c.field)) << c.what;
    EXPECT_LT(largest, size_t{4096}) << c.what << ": " << msg;
  }
}

TEST(Protocol, BoolsMustBeZeroOrOne) {
  Bytes ack = encode(ResultAck{.trial = 1, .send_weights = true});
  Bytes report = encode(ReportMsg{.trial = 1, .step = 2, .value = 0, .metrics = {}});
  for (uint8_t b : {uint8_t{2}, uint8_t{0x80}, uint8_t{0xFF}}) {
    ack.back() = b;
    std::string msg = decode_error(ack);
    EXPECT_THAT(msg, HasSubstr(kSource));
    EXPECT_THAT(
        msg, HasSubstr("ResultAck.send_weights: " + std::to_string(b) + " is not a bool (0 or 1)"));
    report.back() = b;
    msg = decode_error(report);
    EXPECT_THAT(msg, HasSubstr("ReportMsg.last: " + std::to_string(b) + " is not a bool"));
  }
}

TEST(Protocol, OutcomeMustBeKnown) {
  Bytes bytes = encode(
      Result{.trial = 1, .outcome = Outcome::Returned, .value = 1, .error = "", .attrs = {}});
  for (uint8_t b : {uint8_t{3}, uint8_t{255}}) {
    bytes[4 + 8] = b;
    const std::string msg = decode_error(bytes);
    EXPECT_THAT(msg, HasSubstr(kSource));
    EXPECT_THAT(msg, HasSubstr("Result.outcome: " + std::to_string(b) + " is not an outcome"));
    EXPECT_THAT(msg, HasSubstr("2 (Diverged)"));
  }
}

TEST(Protocol, ParameterKindMustBeKnown) {
  Bytes bytes = encode(mpi::Run{.trial = 1, .params = {{"lr", 0.1}}});
  const size_t kind_at = 4 + 8 + 4 + 4 + 2;  // header, trial, count, name
  ASSERT_EQ(bytes[kind_at], 0);
  for (uint8_t b : {uint8_t{3}, uint8_t{255}}) {
    bytes[kind_at] = b;
    const std::string msg = decode_error(bytes);
    EXPECT_THAT(msg, HasSubstr(kSource));
    EXPECT_THAT(msg, HasSubstr("parameter 'lr' has kind " + std::to_string(b)));
    EXPECT_THAT(msg, HasSubstr("0 (float), 1 (integer) or 2 (string)"));
  }
}

// A map has one encoding: names sorted and each once (otherwise a decoded message would silently
// lose an entry, or encode to other bytes).
TEST(Protocol, MapNamesMustBeSortedAndUnique) {
  for (const auto& [first, second, says] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"b", "a", "name 'a' is out of order"}, {"lr", "lr", "name 'lr' appears twice"}}) {
    Bytes report = header(2);
    put_u64(report, 1);
    put_u64(report, 2);
    put_u64(report, bits(0.5));
    put_u32(report, 2);
    put_string(report, first);
    put_u64(report, bits(1.0));
    put_string(report, second);
    put_u64(report, bits(2.0));
    std::string msg = decode_error(report);
    EXPECT_THAT(msg, HasSubstr(kSource));
    EXPECT_THAT(msg, HasSubstr("ReportMsg.metrics: " + says));

    Bytes run = header(1);
    put_u64(run, 1);
    put_u32(run, 2);
    put_string(run, first);
    run.push_back(1);
    put_u64(run, 1);
    put_string(run, second);
    run.push_back(1);
    put_u64(run, 2);
    msg = decode_error(run);
    EXPECT_THAT(msg, HasSubstr("Run.params: " + says));
  }
}

TEST(Protocol, LongNamesAreCutInErrors) {
  Bytes run = header(1);
  put_u64(run, 1);
  put_u32(run, 1);
  put_string(run, std::string(10'000, 'x'));
  run.push_back(9);  // bad kind
  put_u64(run, 0);
  const std::string msg = decode_error(run);
  EXPECT_THAT(msg, HasSubstr("(10000 bytes) has kind 9"));
  EXPECT_LT(msg.size(), 300u) << msg;
}

}  // namespace
}  // namespace krill::exec::mpi
