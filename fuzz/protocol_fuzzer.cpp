// Fuzzes the manager/worker protocol's decoder (exec/mpi/protocol.hpp) with arbitrary bytes, as a
// rank would receive them. A ProtocolError is the clean answer; a crash, any other exception
// (DataError or bad_alloc escaping decode included) is a finding, and so are bytes that decode but
// do not encode back to themselves: a message has exactly one encoding, so a decoder that accepts
// more (or loses something, a NaN's payload, a repeated name) is wrong.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "exec/mpi/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  krill::exec::mpi::Message message;
  try {
    message = krill::exec::mpi::decode(bytes, "fuzz");
  } catch (const krill::exec::mpi::ProtocolError&) {
    return 0;
  }
  const std::vector<uint8_t> again = krill::exec::mpi::encode(message);
  if (!std::equal(again.begin(), again.end(), bytes.begin(), bytes.end())) {
    std::fprintf(stderr, "a %s message decoded from %zu bytes encodes to %zu other bytes\n",
                 krill::exec::mpi::name_of(message).c_str(), size, again.size());
    std::abort();
  }
  return 0;
}
