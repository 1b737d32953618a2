#include "train/checkpoint.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/error.hpp"
#include "core/serialize.hpp"

namespace krill::train {

namespace {
constexpr char kMagic[8] = {'K', 'R', 'I', 'L', 'L', 'C', 'K', 'P'};
constexpr size_t kHeaderBytes = 8 + 4 + 8 + 4;
constexpr uint32_t kFirstVersion = 1;       // without the model's state
constexpr uint32_t kModelStateVersion = 2;  // the first with it

uint32_t checksum(std::span<const uint8_t> bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large payloads in chunks.
  for (size_t off = 0; off < bytes.size(); off += 1u << 30) {
    const size_t n = std::min<size_t>(bytes.size() - off, 1u << 30);
    crc = crc32(crc, bytes.data() + off, static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(crc);
}
}  // namespace

std::vector<uint8_t> save_checkpoint(nn::Module& model, const optim::Optimizer& optimizer,
                                     const TrainState& state) {
  BinaryWriter payload;
  auto params = model.parameters();
  payload.u32(static_cast<uint32_t>(params.size()));
  for (const nn::Parameter* p : params) {
    payload.string(p->name);
    payload.tensor(p->value);
  }
  BinaryWriter model_state;
  model.save_state(model_state);
  payload.u64(model_state.buffer().size());
  payload.bytes(model_state.buffer());
  optimizer.save_state(payload);
  payload.i64(state.iteration);
  payload.f64(state.base_lr);

  BinaryWriter out;
  out.bytes({reinterpret_cast<const uint8_t*>(kMagic), sizeof kMagic});
  out.u32(kCheckpointVersion);
  out.u64(payload.buffer().size());
  out.u32(checksum(payload.buffer()));
  out.bytes(payload.buffer());
  return out.take();
}

TrainState load_checkpoint(std::span<const uint8_t> bytes, nn::Module& model,
                           optim::Optimizer& optimizer, const std::string& source) {
  BinaryReader header(bytes, source);
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    header.fail("not a krill checkpoint (the file does not start with KRILLCKP)");
  }
  header.bytes(sizeof kMagic, "magic");
  const uint32_t version = header.u32("version");
  if (version < kFirstVersion || version > kCheckpointVersion) {
    header.fail("checkpoint format version " + std::to_string(version) +
                ", this krill reads versions " + std::to_string(kFirstVersion) + " to " +
                std::to_string(kCheckpointVersion));
  }
  const uint64_t size = header.u64("payload size");
  const uint32_t crc = header.u32("checksum");
  if (size != header.remaining()) {
    header.fail(size > header.remaining()
                    ? "truncated: header promises " + std::to_string(size) + " payload bytes, " +
                          std::to_string(header.remaining()) + " present"
                    : "trailing bytes after the payload");
  }
  auto payload_bytes = bytes.subspan(kHeaderBytes);
  if (checksum(payload_bytes) != crc) header.fail("corrupt: checksum mismatch");

  // Read everything into copies first, so that a bad checkpoint leaves the model untouched.
  BinaryReader in(payload_bytes, source);
  auto params = model.parameters();
  const uint32_t count = in.u32("parameter count");
  if (count != params.size()) {
    in.fail("checkpoint has " + std::to_string(count) + " parameters, the model has " +
            std::to_string(params.size()) + " (another architecture?)");
  }
  std::vector<Tensor> values;
  values.reserve(count);
  for (const nn::Parameter* p : params) {
    const std::string name = in.string("parameter name");
    if (name != p->name) in.fail("parameter '" + name + "' where the model has '" + p->name + "'");
    values.emplace_back(p->value.shape());
    in.tensor_into(values.back(), name.c_str());
  }
  std::span<const uint8_t> model_state;
  if (version >= kModelStateVersion) {
    const uint64_t size = in.u64("model state size");
    if (size > in.remaining()) {
      in.fail("truncated: model state promises " + std::to_string(size) + " bytes, " +
              std::to_string(in.remaining()) + " left");
    }
    model_state = in.bytes(size, "model state");
  } else if (model.requires_state()) {
    in.fail("checkpoint format version " + std::to_string(version) +
            " holds no module state, which this model needs (batch-norm running statistics), so "
            "it cannot be restored from it");
  }
  // The model's state and the optimizer's are loaded before the training progress after them can
  // still be refused: both are kept to be put back, so that a refused checkpoint changes nothing.
  BinaryWriter model_before, optimizer_before;
  model.save_state(model_before);
  optimizer.save_state(optimizer_before);
  TrainState state;
  try {
    if (version >= kModelStateVersion) {
      BinaryReader state_in(model_state, source + ", model state");
      model.load_state(state_in);
      if (state_in.remaining() != 0) {
        state_in.fail(std::to_string(state_in.remaining()) +
                      " bytes left over after the model's state (another architecture?)");
      }
    }
    optimizer.load_state(in);
    state.iteration = in.i64("iteration");
    if (state.iteration < 0) {
      in.fail("iteration: " + std::to_string(state.iteration) + " is negative");
    }
    state.base_lr = in.f64("base learning rate");
    if (!(state.base_lr >= 0.0 && std::isfinite(state.base_lr))) {
      in.fail(fmt::format("base learning rate: {} is not >= 0 and finite", state.base_lr));
    }
    if (in.remaining() != 0) {
      in.fail("trailing bytes: " + std::to_string(in.remaining()) +
              " after the training progress, expected the payload to end there");
    }
  } catch (const Error&) {
    BinaryReader restore_model(model_before.buffer(), "the model's previous state");
    model.load_state(restore_model);
    BinaryReader restore(optimizer_before.buffer(), "the optimizer's previous state");
    optimizer.load_state(restore);
    throw;
  }
  // Into the parameters' own memory, on their device.
  for (size_t i = 0; i < params.size(); ++i) params[i]->value.copy_from(values[i]);
  return state;
}

void save_checkpoint_file(const std::filesystem::path& file, nn::Module& model,
                          const optim::Optimizer& optimizer, const TrainState& state) {
  write_checkpoint_file(file, save_checkpoint(model, optimizer, state));
}

namespace {

const char* kind_of(std::filesystem::file_type type) {
  switch (type) {
    case std::filesystem::file_type::directory:
      return "a folder";
    case std::filesystem::file_type::character:
      return "a character device";
    case std::filesystem::file_type::block:
      return "a block device";
    case std::filesystem::file_type::fifo:
      return "a FIFO";
    case std::filesystem::file_type::socket:
      return "a socket";
    default:
      return "not a regular file";
  }
}

}  // namespace

std::filesystem::path checkpoint_target(const std::filesystem::path& file) {
  namespace fs = std::filesystem;
  fs::path target = file;
  std::error_code ec;
  for (int hops = 0; fs::is_symlink(fs::symlink_status(target, ec)); ++hops) {
    if (hops == 40) throw DataError(file.string() + ": too many levels of symbolic links");
    const fs::path next = fs::read_symlink(target, ec);
    if (ec) throw DataError(file.string() + ": cannot read the link (" + ec.message() + ")");
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
  const fs::file_status status = fs::status(target, ec);
  if (status.type() != fs::file_type::not_found && status.type() != fs::file_type::regular && !ec) {
    throw DataError(file.string() + ": " + kind_of(status.type()) +
                    ", expected a checkpoint file's path (a new or a regular file)");
  }
  return target;
}

void write_checkpoint_file(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  std::error_code ec;
  const std::filesystem::path file = checkpoint_target(path);
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw DataError(tmp.string() + ": cannot open for writing (" + std::strerror(errno) + ")");
    }
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) throw DataError(tmp.string() + ": write failed (disk full?)");
  }
  std::filesystem::rename(tmp, file, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw DataError(file.string() + ": cannot write (" + ec.message() + ")");
  }
}

std::vector<uint8_t> read_checkpoint_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    throw DataError(file.string() + ": a folder, expected a checkpoint file");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw DataError(file.string() + ": cannot open checkpoint (no such file?)");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad()) throw DataError(file.string() + ": read failed");
  return bytes;
}

TrainState load_checkpoint_file(const std::filesystem::path& file, nn::Module& model,
                                optim::Optimizer& optimizer) {
  return load_checkpoint(read_checkpoint_file(file), model, optimizer, file.string());
}

}  // namespace krill::train
