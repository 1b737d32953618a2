// The manager/worker protocol of distributed studies (exec/mpi): every message between rank 0
// (the manager: sampler, stopper, storage) and a worker rank (trains) is one of these small typed
// structs, turned into bytes by encode() and back by decode(), the only code that knows the
// layout. Bytes that are not a message of this version (truncated, trailing bytes, an unknown
// type, another protocol version, a count larger than the bytes could hold) are refused with a
// ProtocolError that names the sender and what was expected; never undefined behaviour.
//
// Exchanges (worker -> manager, then the manager's answer):
//   Ask                      -> Run{trial, params} | Shutdown
//   ReportMsg{trial, step..} -> Decision{trial, step, action, reason, donor..}
//   Result{trial, outcome..} -> ResultAck{trial, send_weights}
//                               then, when send_weights: Weights{trial, bytes} (no answer)
// A worker has at most one message waiting for an answer; the manager answers each in the order
// it arrives. The manager classifies a Result (Completed, Stopped, Failed, Diverged): the worker
// only says what the objective did.
//
// PBT (version 2): a member's report at a generation's step is answered when the generation is
// complete. For each Exploit the manager first sends the donor's rank Give{donor trial, step,
// to}, then the decisions; the donor, still waiting for its own decision, sends its state
// straight to the recipient's rank, State{trial, step, bytes}, and the recipient, told by its
// Decision which rank the state comes from, loads it. Member states never pass through rank 0.
//
// Layout (little-endian, core/serialize.hpp): "KM" | u8 version | u8 type | fields; a string is
// u32 length + bytes, a map u32 count + entries, a parameter value u8 kind (0 float, 1 integer,
// 2 string) + value. The type is the message's index in `Message` (new messages are appended);
// the fields follow in the order declared below: int64 as i64, double as its 8 bytes (NaN and
// infinities too), bool as u8 0 or 1, Outcome as u8, Weights' bytes as u32 length + bytes (like
// a string). A map's entries go in its order (by name, each name once), so that a message has
// exactly one encoding.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "hpo/param.hpp"

namespace krill::exec::mpi {

inline constexpr uint8_t kProtocolVersion = 2;

class ProtocolError : public Error {
 public:
  using Error::Error;
};

// A worker is idle and asks for a trial.
struct Ask {};

// The manager hands out a trial.
struct Run {
  int64_t trial = 0;
  hpo::Params params;
};

// A point of a running trial's learning curve (hpo::Report).
struct ReportMsg {
  int64_t trial = 0;
  int64_t step = 0;
  double value = 0;
  std::map<std::string, double> metrics;
  bool last = false;  // the trial's final report
};

// The manager's answer to a report (hpo::DecisionRecord): go on, stop, or (PBT) load the state of
// trial `donor` at `donor_step`, which rank `donor_rank` sends (State), and train on with
// `params`. Action on the wire: 0 continue, 1 stop, 2 exploit.
enum class Action : uint8_t { Continue = 0, Stop = 1, Exploit = 2 };
struct Decision {
  int64_t trial = 0;
  int64_t step = 0;
  Action action = Action::Continue;
  std::string reason;
  int64_t donor = -1;
  int64_t donor_step = -1;
  int64_t donor_rank = -1;
  hpo::Params params;
};

// What the objective did with a trial.
enum class Outcome : uint8_t {
  Returned = 0,  // returned `value` (the manager checks that it is finite)
  Threw = 1,     // threw: `error` says what
  Diverged = 2,  // threw hpo::Diverged: `error` says where
};

struct Result {
  int64_t trial = 0;
  Outcome outcome = Outcome::Returned;
  double value = 0;
  std::string error;
  std::map<std::string, double> attrs;
};

// The manager stored a Result; `send_weights`: the trial is the study's best so far, send its
// weights (a train::save_checkpoint byte string).
struct ResultAck {
  int64_t trial = 0;
  bool send_weights = false;
};

struct Weights {
  int64_t trial = 0;
  std::vector<uint8_t> bytes;  // empty: the worker has none (the trial kept no weights)
};

// No more trials: the worker ends.
struct Shutdown {};

// Manager -> a PBT donor's rank, which waits for its decision at `step`: send the state of trial
// `trial` (now) to rank `to`.
struct Give {
  int64_t trial = 0;
  int64_t step = 0;
  int64_t to = -1;
};

// Worker -> worker: a PBT member's state (hpo::Trainable::save()) at `step`.
struct State {
  int64_t trial = 0;
  int64_t step = 0;
  std::vector<uint8_t> bytes;
};

using Message =
    std::variant<Ask, Run, ReportMsg, Decision, Result, ResultAck, Weights, Shutdown, Give, State>;

// "Ask", "Run", ... for error messages and logs.
std::string name_of(const Message& message);

std::vector<uint8_t> encode(const Message& message);
// `source` names the sender in errors ("message from rank 3").
Message decode(std::span<const uint8_t> bytes, const std::string& source);

}  // namespace krill::exec::mpi
