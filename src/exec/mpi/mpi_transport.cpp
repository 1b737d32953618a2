#include "exec/mpi/mpi_transport.hpp"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>
#include <thread>

#include "core/error.hpp"

namespace krill::exec::mpi {

namespace {

constexpr int kTag = 0x4b4d;  // "KM": every protocol message
constexpr double kYieldSeconds = 200e-6;
// The longest sleep between probes. A worker waits for the manager's answer to each report, so
// the manager's wake-up delay is training time lost: with 1 ms the quick-start study's trials took
// 4% longer under MPI, with 5 ms 17%; 250 µs costs an idle manager about 4,000 wake-ups a second
// (about 1% of a core).
constexpr int kMaxPauseMicroseconds = 250;

void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(std::string(call) + " failed: " + std::string(text, static_cast<size_t>(length)));
}

}  // namespace

MpiSession::MpiSession() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) throw Error("MPI is already initialised in this process");
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as codes (turned into exceptions) rather than aborting the job silently.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    throw Error("this MPI library does not allow threads in a process (MPI_THREAD_FUNNELED)");
  }
  check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  MPI_Comm node = MPI_COMM_NULL;
  check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
  MPI_Comm_size(node, &node_size_);
  int here = rank_ == 0 ? 1 : 0, managers = 0;
  check(MPI_Allreduce(&here, &managers, 1, MPI_INT, MPI_MAX, node), "MPI_Allreduce");
  manager_on_node_ = managers > 0;
  MPI_Comm_free(&node);
}

MpiSession::~MpiSession() {
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  MPI_Finalize();
}

bool MpiSession::all(bool ok) const {
  int mine = ok ? 1 : 0, every = 0;
  check(MPI_Allreduce(&mine, &every, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce");
  return every == 1;
}

int MpiSession::first_failed(bool failed) const {
  int mine = failed ? rank_ : std::numeric_limits<int>::max(), first = 0;
  check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce");
  return first == std::numeric_limits<int>::max() ? -1 : first;
}

void MpiSession::abort(int code) const {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; if it did, end this rank at least
}

MpiTransport::MpiTransport(const MpiSession& session)
    : comm_(session.comm()), rank_(session.rank()), size_(session.size()) {}

MpiTransport::~MpiTransport() {
  for (Pending& p : sending_) MPI_Wait(&p.request, MPI_STATUS_IGNORE);
}

void MpiTransport::progress_sends() {
  for (auto it = sending_.begin(); it != sending_.end();) {
    int done = 0;
    MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
    it = done ? sending_.erase(it) : std::next(it);
  }
}

void MpiTransport::send(int to, std::vector<uint8_t> bytes) {
  if (to < 0 || to >= size_) {
    throw InvalidArgument("send to rank " + std::to_string(to) + " of " + std::to_string(size_));
  }
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    throw InvalidArgument("a message of " + std::to_string(bytes.size()) +
                          " bytes is larger than MPI can send at once");
  }
  progress_sends();
  Pending& p = sending_.emplace_back();
  p.bytes = std::move(bytes);
  check(MPI_Isend(p.bytes.data(), static_cast<int>(p.bytes.size()), MPI_BYTE, to, kTag, comm_,
                  &p.request),
        "MPI_Isend");
}

std::optional<Envelope> MpiTransport::receive(double timeout) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto pause = std::chrono::microseconds(20);
  for (;;) {
    int found = 0;
    MPI_Status status;
    check(MPI_Iprobe(MPI_ANY_SOURCE, kTag, comm_, &found, &status), "MPI_Iprobe");
    if (found) {
      int count = 0;
      MPI_Get_count(&status, MPI_BYTE, &count);
      Envelope e;
      e.from = status.MPI_SOURCE;
      e.bytes.resize(static_cast<size_t>(count));
      check(MPI_Recv(e.bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, kTag, comm_,
                     MPI_STATUS_IGNORE),
            "MPI_Recv");
      return e;
    }
    progress_sends();
    const double waited = std::chrono::duration<double>(Clock::now() - start).count();
    if (timeout >= 0 && waited >= timeout) return std::nullopt;
    // An answer is usually a few microseconds to a transaction (~100 µs) away: probe, yielding
    // the core to any other process that wants it, for 200 µs; then sleep, 20 µs doubling to
    // 250 µs. (Two sides that both sleep longer and longer while each waits for the other would
    // add milliseconds to every exchange.)
    if (waited < kYieldSeconds) {
      sched_yield();
      continue;
    }
    auto sleep = pause;
    if (timeout >= 0) {
      sleep = std::min(sleep, std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::duration<double>(timeout - waited)) +
                                  std::chrono::microseconds(1));
    }
    std::this_thread::sleep_for(sleep);
    pause = std::min(pause * 2, decltype(pause)(kMaxPauseMicroseconds));
  }
}

}  // namespace krill::exec::mpi
