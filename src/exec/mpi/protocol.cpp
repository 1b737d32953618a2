#include "exec/mpi/protocol.hpp"

#include <array>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "core/serialize.hpp"

namespace krill::exec::mpi {

namespace {

// Indexed by the variant's alternative, which is also the type byte on the wire.
constexpr std::array<const char*, std::variant_size_v<Message>> kNames = {
    "Ask",       "Run",     "ReportMsg", "Decision", "Result",
    "ResultAck", "Weights", "Shutdown",  "Give",     "State"};
static_assert(kNames.back() != nullptr, "a message type without a name");

template <class T, class... Ts>
constexpr uint8_t index_in(const std::variant<Ts...>*) {
  constexpr bool same[] = {std::is_same_v<T, Ts>...};
  for (size_t i = 0; i < sizeof...(Ts); ++i) {
    if (same[i]) return static_cast<uint8_t>(i);
  }
  throw "not a message type";  // not a constant expression: a compile error
}

// The type byte of message T: its index in the variant.
template <class T>
constexpr uint8_t type_of() {
  return index_in<T>(static_cast<const Message*>(nullptr));
}
static_assert(type_of<Ask>() == 0 && type_of<Shutdown>() == 7 && type_of<State>() == 9,
              "the type byte is the variant's index: append new messages, never reorder");

constexpr uint8_t kMagic[2] = {'K', 'M'};

// The fewest bytes a map entry can take, to refuse a count the remaining bytes cannot hold before
// looping over it: a name's length, then a double (metrics, attrs) or the smallest parameter
// value (kind + an empty string's length).
constexpr size_t kMinMetricEntry = 4 + 8;
constexpr size_t kMinParamEntry = 4 + 1 + 4;

// ---- encoding ----------------------------------------------------------------------------------

// The protocol's lengths and counts are u32: a longer string (or weights) cannot be sent, and a
// silently wrapped length would make the rest of the message garbage.
uint32_t count32(size_t n, const char* message, const char* field) {
  if (n > std::numeric_limits<uint32_t>::max()) {
    throw ProtocolError(std::string("cannot encode ") + message + ": " + field + " has " +
                        std::to_string(n) + " elements, the protocol's limit is " +
                        std::to_string(std::numeric_limits<uint32_t>::max()));
  }
  return static_cast<uint32_t>(n);
}

void put_string(BinaryWriter& w, const std::string& s, const char* message, const char* field) {
  count32(s.size(), message, field);
  w.string(s);
}

void put_bool(BinaryWriter& w, bool b) {
  w.u8(b ? 1 : 0);
}

void put_metrics(BinaryWriter& w, const std::map<std::string, double>& m, const char* message,
                 const char* field) {
  w.u32(count32(m.size(), message, field));
  for (const auto& [name, value] : m) {
    put_string(w, name, message, field);
    w.f64(value);
  }
}

void put_bytes(BinaryWriter& w, const std::vector<uint8_t>& bytes, const char* message) {
  w.u32(count32(bytes.size(), message, "bytes"));
  w.bytes(bytes);
}

void put_params(BinaryWriter& w, const hpo::Params& params, const char* message) {
  w.u32(count32(params.size(), message, "params"));
  for (const auto& [name, value] : params) {
    put_string(w, name, message, "params");
    w.u8(static_cast<uint8_t>(value.index()));  // 0 float, 1 integer, 2 string
    if (const auto* d = std::get_if<double>(&value)) {
      w.f64(*d);
    } else if (const auto* i = std::get_if<int64_t>(&value)) {
      w.i64(*i);
    } else {
      put_string(w, std::get<std::string>(value), message, "params");
    }
  }
}

void put_body(BinaryWriter&, const Ask&) {}
void put_body(BinaryWriter&, const Shutdown&) {}

void put_body(BinaryWriter& w, const Run& m) {
  w.i64(m.trial);
  put_params(w, m.params, "Run");
}

void put_body(BinaryWriter& w, const ReportMsg& m) {
  w.i64(m.trial);
  w.i64(m.step);
  w.f64(m.value);
  put_metrics(w, m.metrics, "ReportMsg", "metrics");
  put_bool(w, m.last);
}

void put_body(BinaryWriter& w, const Decision& m) {
  w.i64(m.trial);
  w.i64(m.step);
  w.u8(static_cast<uint8_t>(m.action));
  put_string(w, m.reason, "Decision", "reason");
  w.i64(m.donor);
  w.i64(m.donor_step);
  w.i64(m.donor_rank);
  put_params(w, m.params, "Decision");
}

void put_body(BinaryWriter& w, const Give& m) {
  w.i64(m.trial);
  w.i64(m.step);
  w.i64(m.to);
}

void put_body(BinaryWriter& w, const State& m) {
  w.i64(m.trial);
  w.i64(m.step);
  put_bytes(w, m.bytes, "State");
}

void put_body(BinaryWriter& w, const Result& m) {
  w.i64(m.trial);
  w.u8(static_cast<uint8_t>(m.outcome));
  w.f64(m.value);
  put_string(w, m.error, "Result", "error");
  put_metrics(w, m.attrs, "Result", "attrs");
}

void put_body(BinaryWriter& w, const ResultAck& m) {
  w.i64(m.trial);
  put_bool(w, m.send_weights);
}

void put_body(BinaryWriter& w, const Weights& m) {
  w.i64(m.trial);
  put_bytes(w, m.bytes, "Weights");
}

// A name as error messages show it: quoted, and cut when long (a corrupt message can hold a name
// of megabytes).
std::string quoted(const std::string& name) {
  constexpr size_t kShown = 40;
  // Appended piece by piece: "'" + name trips GCC 12's false -Wrestrict warning.
  std::string out(1, '\'');
  out.append(name, 0, kShown);
  if (name.size() <= kShown) return out += '\'';
  return out.append("...' (").append(std::to_string(name.size())).append(" bytes)");
}

std::string hex(uint8_t b) {
  constexpr char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[b >> 4] + kDigits[b & 0xF];
}

// ---- decoding ----------------------------------------------------------------------------------
// Every failure is a DataError from the reader (BinaryReader::fail names the source and the byte),
// turned into a ProtocolError by decode(). Field names say the message type, so that an error
// reads "message from rank 3: truncated: Run.params needs ...".

bool get_bool(BinaryReader& r, const char* field) {
  const uint8_t b = r.u8(field);
  if (b > 1) r.fail(std::string(field) + ": " + std::to_string(b) + " is not a bool (0 or 1)");
  return b == 1;
}

// The count of a map whose entries take at least `min_entry` bytes each.
uint32_t get_count(BinaryReader& r, const char* field, size_t min_entry) {
  const uint32_t n = r.u32(field);
  if (n > r.remaining() / min_entry) {
    r.fail(std::string("truncated: ") + field + " promises " + std::to_string(n) +
           " entries of at least " + std::to_string(min_entry) + " bytes, only " +
           std::to_string(r.remaining()) + " bytes left");
  }
  return n;
}

// Names come in the map's order, each once: one encoding per message, so that a message decodes
// to what was sent and encodes back to the same bytes.
template <class V>
void insert_in_order(BinaryReader& r, std::map<std::string, V>& map, std::string name, V value,
                     const char* field) {
  if (!map.empty() && !(map.rbegin()->first < name)) {
    r.fail(std::string(field) + ": name " + quoted(name) + " " +
           (map.rbegin()->first == name ? "appears twice" : "is out of order") +
           " (names are sent sorted, each once)");
  }
  map.emplace_hint(map.end(), std::move(name), std::move(value));
}

std::map<std::string, double> get_metrics(BinaryReader& r, const std::string& field) {
  const std::string name_field = field + " name";
  const std::string value_field = field + " value";
  std::map<std::string, double> m;
  const uint32_t n = get_count(r, field.c_str(), kMinMetricEntry);
  for (uint32_t i = 0; i < n; ++i) {
    std::string name = r.string(name_field.c_str());
    const double value = r.f64(value_field.c_str());
    insert_in_order(r, m, std::move(name), value, field.c_str());
  }
  return m;
}

// `message`: "Run" or "Decision", for the field names in errors.
hpo::Params get_params(BinaryReader& r, const std::string& message) {
  const std::string field = message + ".params";
  const std::string name_field = field + " name", kind_field = field + " kind",
                    float_field = field + " float value", int_field = field + " integer value",
                    string_field = field + " string value";
  hpo::Params params;
  const uint32_t n = get_count(r, field.c_str(), kMinParamEntry);
  for (uint32_t i = 0; i < n; ++i) {
    std::string name = r.string(name_field.c_str());
    const uint8_t kind = r.u8(kind_field.c_str());
    hpo::ParamValue value;
    switch (kind) {
      case 0:
        value = r.f64(float_field.c_str());
        break;
      case 1:
        value = r.i64(int_field.c_str());
        break;
      case 2:
        value = r.string(string_field.c_str());
        break;
      default:
        r.fail(field + ": parameter " + quoted(name) + " has kind " + std::to_string(kind) +
               ", expected 0 (float), 1 (integer) or 2 (string)");
    }
    insert_in_order(r, params, std::move(name), std::move(value), field.c_str());
  }
  return params;
}

std::vector<uint8_t> get_bytes(BinaryReader& r, const char* field) {
  const uint32_t n = r.u32(field);
  const std::span<const uint8_t> bytes = r.bytes(n, field);  // checks n first
  return {bytes.begin(), bytes.end()};
}

Message get_body(BinaryReader& r, uint8_t type) {
  switch (type) {
    case type_of<Ask>():
      return Ask{};
    case type_of<Run>(): {
      Run m;
      m.trial = r.i64("Run.trial");
      m.params = get_params(r, "Run");
      return m;
    }
    case type_of<ReportMsg>(): {
      ReportMsg m;
      m.trial = r.i64("ReportMsg.trial");
      m.step = r.i64("ReportMsg.step");
      m.value = r.f64("ReportMsg.value");
      m.metrics = get_metrics(r, "ReportMsg.metrics");
      m.last = get_bool(r, "ReportMsg.last");
      return m;
    }
    case type_of<Decision>(): {
      Decision m;
      m.trial = r.i64("Decision.trial");
      m.step = r.i64("Decision.step");
      const uint8_t action = r.u8("Decision.action");
      if (action > static_cast<uint8_t>(Action::Exploit)) {
        r.fail("Decision.action: " + std::to_string(action) +
               " is not an action, expected 0 (Continue), 1 (Stop) or 2 (Exploit)");
      }
      m.action = static_cast<Action>(action);
      m.reason = r.string("Decision.reason");
      m.donor = r.i64("Decision.donor");
      m.donor_step = r.i64("Decision.donor_step");
      m.donor_rank = r.i64("Decision.donor_rank");
      m.params = get_params(r, "Decision");
      return m;
    }
    case type_of<Give>(): {
      Give m;
      m.trial = r.i64("Give.trial");
      m.step = r.i64("Give.step");
      m.to = r.i64("Give.to");
      return m;
    }
    case type_of<State>(): {
      State m;
      m.trial = r.i64("State.trial");
      m.step = r.i64("State.step");
      m.bytes = get_bytes(r, "State.bytes");
      return m;
    }
    case type_of<Result>(): {
      Result m;
      m.trial = r.i64("Result.trial");
      const uint8_t outcome = r.u8("Result.outcome");
      if (outcome > static_cast<uint8_t>(Outcome::Diverged)) {
        r.fail("Result.outcome: " + std::to_string(outcome) +
               " is not an outcome, expected 0 (Returned), 1 (Threw) or 2 (Diverged)");
      }
      m.outcome = static_cast<Outcome>(outcome);
      m.value = r.f64("Result.value");
      m.error = r.string("Result.error");
      m.attrs = get_metrics(r, "Result.attrs");
      return m;
    }
    case type_of<ResultAck>(): {
      ResultAck m;
      m.trial = r.i64("ResultAck.trial");
      m.send_weights = get_bool(r, "ResultAck.send_weights");
      return m;
    }
    case type_of<Weights>(): {
      Weights m;
      m.trial = r.i64("Weights.trial");
      m.bytes = get_bytes(r, "Weights.bytes");
      return m;
    }
    case type_of<Shutdown>():
      return Shutdown{};
    default:
      r.fail("unknown message type " + std::to_string(type) + ", expected 0.." +
             std::to_string(kNames.size() - 1) + " (Ask .. State)");
  }
}

}  // namespace

std::string name_of(const Message& message) {
  return kNames[message.index()];
}

std::vector<uint8_t> encode(const Message& message) {
  BinaryWriter w;
  w.bytes(kMagic);
  w.u8(kProtocolVersion);
  w.u8(static_cast<uint8_t>(message.index()));
  std::visit([&w](const auto& m) { put_body(w, m); }, message);
  return w.take();
}

Message decode(std::span<const uint8_t> bytes, const std::string& source) {
  try {
    BinaryReader r(bytes, source);
    const std::span<const uint8_t> magic = r.bytes(sizeof kMagic, "magic");
    if (magic[0] != kMagic[0] || magic[1] != kMagic[1]) {
      r.fail("not a krill message: it starts with bytes " + hex(magic[0]) + " " + hex(magic[1]) +
             ", expected \"KM\" (0x4b 0x4d)");
    }
    const uint8_t version = r.u8("version");
    if (version != kProtocolVersion) {
      r.fail("protocol version " + std::to_string(version) + ", expected " +
             std::to_string(kProtocolVersion) + " (krill of another version on this rank?)");
    }
    const uint8_t type = r.u8("type");
    Message message = get_body(r, type);
    if (r.remaining() > 0) {
      r.fail(std::to_string(r.remaining()) + " trailing byte(s) after a complete " +
             kNames[message.index()] + " message");
    }
    return message;
  } catch (const DataError& e) {
    throw ProtocolError(e.what());
  }
}

}  // namespace krill::exec::mpi
