#include "train/population.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "backend/backend.hpp"
#include "core/error.hpp"
#include "core/serialize.hpp"
#include "data/loader.hpp"
#include "nn/batch_norm.hpp"
#include "nn/conv2d.hpp"
#include "nn/pool2d.hpp"
#include "train/checkpoint.hpp"

namespace krill::train {

using backend::Transpose;

namespace {

double member_lr(const MemberConfig& m) {
  return m.optimizer == "adam" ? m.adam.lr : m.sgd.lr;
}

}  // namespace

// A layer of the population: member p's output rows are p*rows .. p*rows+rows-1 of `output`.
// Every layer is one backend call for all members: the population ops (`*_batched`, which a
// device may run as one launch) where members have weights or statistics, else the single op over
// every member's rows.
struct Population::Layer {
  nn::LayerKind kind = nn::LayerKind::Dense;
  nn::Activation activation = nn::Activation::Relu;
  int64_t in = 0, out = 0;  // features (an image's C*H*W)
  int weight = -1;    // Dense, Conv: its weight in params_ (its bias follows); BatchNorm: gamma
  int dropout = -1;   // Dropout: its index among the model's dropout layers
  size_t module = 0;  // its module in the solo model (nn::Sequential's index)
  std::string name;   // the solo module's describe(), for messages
  backend::Conv2dGeometry conv;
  backend::Pool2dGeometry pool;
  backend::BatchNormGeometry norm;
  bool needs_input_grad = true;
  const float* input = nullptr;
  bool input_shared = false;
  Tensor output, grad_input;
  Tensor mask;       // Dropout: its mask; MaxPool: the argmax
  Tensor workspace;  // Conv: the backend's
  // BatchNorm, [P, C]: the running statistics (the member's state, moved with it) and the
  // training batch's mean and inverse deviation (for backward).
  Tensor running_mean, running_var, batch_mean, batch_inv_std;
};

// One parameter of every member: value, grad and optimizer state are [P, <its shape>].
struct Population::Parameter {
  int64_t numel = 0;  // per member
  Tensor value, grad;
  std::vector<Tensor> state;  // SGD: the velocity (when a member has momentum); Adam: m, v
};

std::string population_key(const MemberConfig& m, int classes) {
  std::string layers;
  for (const nn::LayerSpec& l : m.model.layers(classes)) {
    if (!layers.empty()) layers += ',';
    layers += l.kind == nn::LayerKind::Dropout ? std::string("dropout") : l.to_string();
  }
  std::string optimizer = m.optimizer;
  if (m.optimizer == "adam") {
    optimizer += fmt::format(":{}:{}:{}", m.adam.beta1, m.adam.beta2, m.adam.eps);
  } else if (m.sgd.nesterov) {
    optimizer += ":nesterov";
  }
  const TrainOptions& t = m.train;
  const std::string length = t.iterations > 0 ? fmt::format("iterations={}", t.iterations)
                                              : fmt::format("epochs={}", t.epochs);
  return fmt::format("layers={} optimizer={} batch={} {} eval_every={} eval_batch={}", layers,
                     optimizer, t.batch, length, t.eval_every, t.eval_batch);
}

Population::~Population() = default;

Population::Population(std::vector<MemberConfig> members, ImageShape input, int classes,
                       Device device)
    : configs_(std::move(members)),
      input_(input),
      // The models' outputs (a last dense:N may cover more classes than the data has).
      classes_(configs_.empty() ? classes : configs_[0].model.outputs(classes)),
      device_(device),
      features_(input.numel()) {
  if (configs_.empty()) throw InvalidArgument("population: no members");
  const std::string key = population_key(configs_[0], classes);
  adam_ = configs_[0].optimizer == "adam";
  const int count = size();
  for (int m = 0; m < count; ++m) {
    const MemberConfig& c = configs_[m];
    const std::string who = "population member " + std::to_string(m);
    if (c.optimizer != "sgd" && c.optimizer != "adam") {
      throw InvalidArgument(who + ": unknown optimizer '" + c.optimizer +
                            "', expected sgd or adam");
    }
    if (const std::string k = population_key(c, classes); k != key) {
      throw InvalidArgument(who + " cannot train with member 0: its '" + k + "' differs from '" +
                            key + "'");
    }
    if (c.train.start_iteration != 0) {
      throw InvalidArgument(who + ": a population does not resume (start_iteration " +
                            std::to_string(c.train.start_iteration) + ")");
    }
    Trainer check(c.train);  // the solo run's checks of the options
  }

  // The shared architecture, from member 0's shapes and solo model (equal keys: equal layers).
  const std::vector<nn::LayerShape> shapes = nn::infer_shapes(configs_[0].model, input, classes);
  SoloMember first = build_solo(0);  // its weights go into slot 0 below
  nn::Sequential& net = *first.model;
  bool needed = false;  // Sequential's rule: no input gradient up to the first weighted layer
  int dropouts = 0;
  size_t module = 0;
  for (const nn::LayerShape& s : shapes) {
    if (s.layer.kind == nn::LayerKind::Flatten) continue;  // no module: a row is the image
    Layer l;
    l.kind = s.layer.kind;
    l.activation = s.layer.activation;
    l.in = s.in.numel();
    l.out = s.out.numel();
    l.module = module++;
    l.name = net[l.module].describe();
    l.needs_input_grad = needed;
    const auto add_parameters = [&](int64_t weight, int64_t bias) {
      l.weight = static_cast<int>(params_.size());
      params_.emplace_back().numel = weight;
      params_.emplace_back().numel = bias;
      needed = true;
    };
    switch (l.kind) {
      case nn::LayerKind::Dense:
        add_parameters(l.out * l.in, l.out);
        break;
      case nn::LayerKind::Conv:
        l.conv = dynamic_cast<const nn::Conv2d&>(net[l.module]).geometry();
        add_parameters(l.conv.out_channels * l.conv.patch_size(), l.conv.out_channels);
        break;
      case nn::LayerKind::MaxPool:
      case nn::LayerKind::AvgPool:
        l.pool = dynamic_cast<const nn::Pool2dLayer&>(net[l.module]).geometry();
        break;
      case nn::LayerKind::BatchNorm:
        l.norm = dynamic_cast<const nn::BatchNorm&>(net[l.module]).geometry();
        add_parameters(l.norm.channels, l.norm.channels);
        for (Tensor* t : {&l.running_mean, &l.running_var, &l.batch_mean, &l.batch_inv_std}) {
          *t = Tensor({count, l.norm.channels}, device);
        }
        break;
      case nn::LayerKind::Dropout:
        l.dropout = dropouts++;
        break;
      case nn::LayerKind::Activation:
      case nn::LayerKind::Flatten:
        break;
    }
    layers_.push_back(std::move(l));
  }
  if (module != net.size()) {
    throw Error("population: " + std::to_string(module) + " layers for a solo model of " +
                std::to_string(net.size()) + " modules");  // a layer kind without its case here
  }

  if (params_.empty()) {
    throw InvalidArgument("population: model '" + configs_[0].model.to_string() +
                          "' has no layer with weights to train");
  }
  bool momentum = false;
  for (const MemberConfig& c : configs_) momentum = momentum || c.sgd.momentum > 0.0;
  const int states = adam_ ? 2 : (momentum ? 1 : 0);
  for (Parameter& p : params_) {
    p.value = Tensor({count, p.numel}, device);
    p.grad = Tensor({count, p.numel}, device);
    for (int i = 0; i < states; ++i) p.state.emplace_back(Shape{count, p.numel}, device);
  }

  // Every member's initial weights and dropout streams exactly as its solo model's.
  Allocator& memory = allocator(device);
  for (int m = 0; m < count; ++m) {
    SoloMember solo = m == 0 ? std::move(first) : build_solo(m);
    const std::vector<nn::Parameter*> solo_params = solo.model->parameters();
    for (size_t i = 0; i < params_.size(); ++i) {
      Parameter& p = params_[i];
      memory.copy_from_host(p.value.data() + m * p.numel, solo_params[i]->value.data(),
                            static_cast<size_t>(p.numel) * sizeof(float));
    }
    statistics_to_slot(*solo.model, m);
    BinaryWriter streams;
    solo.model->save_streams(streams);
    BinaryReader in(streams.buffer(), "dropout streams");
    std::vector<Rng> rngs(static_cast<size_t>(dropouts));
    for (Rng& r : rngs) r.load(in);
    dropout_rngs_.push_back(std::move(rngs));
    std::vector<float> rates;
    for (const nn::LayerSpec& l : configs_[m].model.layers(classes)) {
      if (l.kind == nn::LayerKind::Dropout) rates.push_back(l.p);
    }
    dropout_rates_.push_back(std::move(rates));
    slot_member_.push_back(m);
    member_slot_.push_back(m);
    base_lr_.push_back(member_lr(configs_[m]));
  }
  gone_.resize(static_cast<size_t>(count));
  gone_at_.assign(static_cast<size_t>(count), 0);
}

SoloMember Population::build_solo(int member) const {
  const MemberConfig& c = configs_[static_cast<size_t>(member)];
  SoloMember out;
  out.model = nn::build_model(c.model, input_, classes_, c.init_seed);
  if (c.optimizer == "adam") {
    out.optimizer = std::make_unique<optim::Adam>(out.model->parameters(), c.adam);
  } else {
    out.optimizer = std::make_unique<optim::Sgd>(out.model->parameters(), c.sgd);
  }
  out.base_lr = member_lr(c);
  return out;
}

int Population::slot_of(int member, const char* who) const {
  if (member < 0 || member >= size()) {
    throw InvalidArgument(std::string("population: ") + who + " of member " +
                          std::to_string(member) + ", the population has " +
                          std::to_string(size()) + " members");
  }
  const int slot = member_slot_[static_cast<size_t>(member)];
  if (slot < 0) {
    throw InvalidArgument(std::string("population: ") + who + " of member " +
                          std::to_string(member) + ", which has left the population");
  }
  return slot;
}

bool Population::is_active(int member) const {
  return member >= 0 && member < size() && member_slot_[static_cast<size_t>(member)] >= 0;
}

double Population::base_lr(int member) const {
  slot_of(member, "base_lr");
  return base_lr_[static_cast<size_t>(member)];
}

void Population::set_base_lr(int member, double lr) {
  slot_of(member, "set_base_lr");
  if (!(lr >= 0) || !std::isfinite(lr)) {
    throw InvalidArgument("learning rate must be >= 0 and finite, got " + std::to_string(lr));
  }
  base_lr_[static_cast<size_t>(member)] = lr;
}

void Population::set_schedule(int member, optim::Schedule schedule) {
  slot_of(member, "set_schedule");
  configs_[static_cast<size_t>(member)].train.schedule = std::move(schedule);
}

void Population::copy_slot(int from, int to) {
  Allocator& memory = allocator(device_);
  for (Parameter& p : params_) {
    const size_t bytes = static_cast<size_t>(p.numel) * sizeof(float);
    memory.copy(p.value.data() + to * p.numel, p.value.data() + from * p.numel, bytes);
    for (Tensor& s : p.state)
      memory.copy(s.data() + to * p.numel, s.data() + from * p.numel, bytes);
  }
  for (Layer& l : layers_) {
    if (l.kind != nn::LayerKind::BatchNorm) continue;
    const int64_t c = l.norm.channels;
    const size_t bytes = static_cast<size_t>(c) * sizeof(float);
    for (Tensor* t : {&l.running_mean, &l.running_var}) {
      memory.copy(t->data() + to * c, t->data() + from * c, bytes);
    }
  }
}

// BatchNorm's running statistics, between a solo model (on the host) and a slot.
void Population::statistics_to_slot(nn::Sequential& solo, int slot) {
  Allocator& memory = allocator(device_);
  for (Layer& l : layers_) {
    if (l.kind != nn::LayerKind::BatchNorm) continue;
    auto& norm = dynamic_cast<nn::BatchNorm&>(solo[l.module]);
    const int64_t c = l.norm.channels;
    const size_t bytes = static_cast<size_t>(c) * sizeof(float);
    memory.copy_from_host(l.running_mean.data() + slot * c, norm.running_mean().data(), bytes);
    memory.copy_from_host(l.running_var.data() + slot * c, norm.running_var().data(), bytes);
  }
}

void Population::statistics_from_slot(int slot, nn::Sequential& solo) const {
  Allocator& memory = allocator(device_);
  for (const Layer& l : layers_) {
    if (l.kind != nn::LayerKind::BatchNorm) continue;
    auto& norm = dynamic_cast<nn::BatchNorm&>(solo[l.module]);
    const int64_t c = l.norm.channels;
    const size_t bytes = static_cast<size_t>(c) * sizeof(float);
    memory.copy_to_host(norm.running_mean().data(), l.running_mean.data() + slot * c, bytes);
    memory.copy_to_host(norm.running_var().data(), l.running_var.data() + slot * c, bytes);
  }
}

void Population::copy_member(int from, int to) {
  const int from_slot = slot_of(from, "copy_member from");
  const int to_slot = slot_of(to, "copy_member to");
  if (from_slot == to_slot) return;
  copy_slot(from_slot, to_slot);
  base_lr_[static_cast<size_t>(to)] = base_lr_[static_cast<size_t>(from)];
}

void Population::load_member(int member, std::span<const uint8_t> bytes) {
  const int slot = slot_of(member, "load_member");
  SoloMember solo = build_solo(member);
  const TrainState state = load_checkpoint(bytes, *solo.model, *solo.optimizer, "member state");
  if (state.iteration != iteration_) {
    throw DataError("member state: of step " + std::to_string(state.iteration) +
                    ", the population is at step " + std::to_string(iteration_));
  }
  // Checked before the first copy: a state refused leaves the member as it was.
  for (size_t i = 0; i < params_.size(); ++i) {
    const size_t kept = solo.optimizer->buffers(i).size();
    if (kept != params_[i].state.size()) {
      throw DataError("member state: its optimizer keeps " + std::to_string(kept) +
                      " buffers a parameter, the population " +
                      std::to_string(params_[i].state.size()));
    }
  }
  Allocator& memory = allocator(device_);
  const std::vector<nn::Parameter*> solo_params = solo.model->parameters();
  for (size_t i = 0; i < params_.size(); ++i) {
    Parameter& p = params_[i];
    const size_t bytes_each = static_cast<size_t>(p.numel) * sizeof(float);
    const std::vector<Tensor*> buffers = solo.optimizer->buffers(i);
    memory.copy_from_host(p.value.data() + slot * p.numel, solo_params[i]->value.data(),
                          bytes_each);
    for (size_t b = 0; b < buffers.size(); ++b) {
      memory.copy_from_host(p.state[b].data() + slot * p.numel, buffers[b]->data(), bytes_each);
    }
  }
  statistics_to_slot(*solo.model, slot);
  base_lr_[static_cast<size_t>(member)] = state.base_lr;
}

void Population::set_options(int member, const optim::SgdOptions& sgd,
                             const optim::AdamOptions& adam) {
  slot_of(member, "set_options");
  MemberConfig& c = configs_[static_cast<size_t>(member)];
  if (sgd.nesterov != c.sgd.nesterov || adam.beta1 != c.adam.beta1 || adam.beta2 != c.adam.beta2 ||
      adam.eps != c.adam.eps) {
    throw InvalidArgument(
        "population: nesterov and Adam's betas and eps are the population's, not a member's");
  }
  if (!adam_ && sgd.momentum > 0 && params_.front().state.empty()) {
    throw InvalidArgument(
        "population: momentum for a member of a population trained without momentum buffers");
  }
  optim::Sgd check(std::vector<nn::Parameter*>{}, sgd);  // the solo optimizers' rules
  optim::Adam check_adam(std::vector<nn::Parameter*>{}, adam);
  c.sgd = sgd;
  c.adam = adam;
}

void Population::remove_slot(int slot) {
  const int last = active() - 1;
  member_slot_[static_cast<size_t>(slot_member_[static_cast<size_t>(slot)])] = -1;
  if (slot != last) {
    copy_slot(last, slot);
    slot_member_[static_cast<size_t>(slot)] = slot_member_[static_cast<size_t>(last)];
    member_slot_[static_cast<size_t>(slot_member_[static_cast<size_t>(slot)])] = slot;
  }
  slot_member_.pop_back();
}

SoloMember Population::solo_from_slot(int slot) const {
  const int member = slot_member_[static_cast<size_t>(slot)];
  SoloMember out = build_solo(member);
  Allocator& memory = allocator(device_);
  const std::vector<nn::Parameter*> solo_params = out.model->parameters();
  for (size_t i = 0; i < params_.size(); ++i) {
    const Parameter& p = params_[i];
    const size_t bytes = static_cast<size_t>(p.numel) * sizeof(float);
    memory.copy_to_host(solo_params[i]->value.data(), p.value.data() + slot * p.numel, bytes);
    const std::vector<Tensor*> buffers = out.optimizer->buffers(i);
    for (size_t b = 0; b < buffers.size(); ++b) {
      memory.copy_to_host(buffers[b]->data(), p.state[b].data() + slot * p.numel, bytes);
    }
  }
  statistics_from_slot(slot, *out.model);
  BinaryWriter streams;
  for (const Rng& r : dropout_rngs_[static_cast<size_t>(member)]) r.save(streams);
  BinaryReader in(streams.buffer(), "dropout streams");
  out.model->load_streams(in);
  out.optimizer->set_steps(optimizer_steps_);
  out.base_lr = base_lr_[static_cast<size_t>(member)];
  out.optimizer->set_lr(out.base_lr);
  out.iteration = iteration_;
  return out;
}

SoloMember Population::extract(int member) const {
  if (member < 0 || member >= size()) slot_of(member, "extract");  // throws
  const int slot = member_slot_[static_cast<size_t>(member)];
  if (slot >= 0) return solo_from_slot(slot);
  SoloMember out = build_solo(member);
  const TrainState state =
      load_checkpoint(gone_[static_cast<size_t>(member)], *out.model, *out.optimizer);
  out.base_lr = state.base_lr;
  out.iteration = state.iteration;
  return out;
}

std::vector<uint8_t> Population::checkpoint(int member) const {
  if (member >= 0 && member < size() && member_slot_[static_cast<size_t>(member)] < 0) {
    return gone_[static_cast<size_t>(member)];
  }
  SoloMember solo = extract(member);
  return save_checkpoint(*solo.model, *solo.optimizer,
                         {.iteration = solo.iteration, .base_lr = solo.base_lr});
}

// x [P*rows, in] (or [rows, in] shared) -> logits [P*rows, classes]; the shapes of each layer as
// its solo module's, per member.
const Tensor& Population::forward(const float* x, bool shared, int64_t rows, nn::Mode mode) {
  auto& be = backend::backend(device_);
  Allocator& memory = allocator(device_);
  const int64_t members = active();
  const float* h = x;
  const Tensor* out = nullptr;
  for (Layer& l : layers_) {
    l.input = h;
    l.input_shared = shared;
    const int64_t total_rows = shared ? rows : members * rows;
    switch (l.kind) {
      case nn::LayerKind::Dense: {
        // y_p [rows, out] = b_p (broadcast);  y_p += x_p W_p^T
        const Parameter& w = params_[static_cast<size_t>(l.weight)];
        const Parameter& b = params_[static_cast<size_t>(l.weight) + 1];
        l.output.resize({members * rows, l.out}, device_);
        be.broadcast_rows_batched(b.value.data(), members, rows, l.out, l.output.data());
        be.gemm_strided_batched(Transpose::No, Transpose::Yes, rows, l.out, l.in, 1.0f, h, l.in,
                                shared ? 0 : rows * l.in, w.value.data(), l.in, w.numel, 1.0f,
                                l.output.data(), l.out, rows * l.out, members);
        shared = false;
        break;
      }
      case nn::LayerKind::Conv: {
        // Per member: y_p = conv(x_p, W_p) + b_p.
        const Parameter& w = params_[static_cast<size_t>(l.weight)];
        const Parameter& b = params_[static_cast<size_t>(l.weight) + 1];
        l.output.resize({members * rows, l.out}, device_);
        be.conv2d_forward_batched(l.conv, h, shared, w.value.data(), b.value.data(), members, rows,
                                  l.output.data(), l.workspace);
        shared = false;
        break;
      }
      case nn::LayerKind::MaxPool:
      case nn::LayerKind::AvgPool: {
        // No weights: one call over every member's rows (or the shared rows, which stay shared).
        const Tensor x = Tensor::view(h, {total_rows, l.in}, device_);
        l.output.resize({total_rows, l.out}, device_);
        if (l.kind == nn::LayerKind::MaxPool) {
          l.mask.resize({total_rows, l.out}, device_);
          be.max_pool2d_forward(l.pool, x, l.output, l.mask);
        } else {
          be.avg_pool2d_forward(l.pool, x, l.output);
        }
        break;
      }
      case nn::LayerKind::BatchNorm: {
        // Per member, with its statistics (as its solo BatchNorm keeps them).
        const Parameter& gamma = params_[static_cast<size_t>(l.weight)];
        const Parameter& beta = params_[static_cast<size_t>(l.weight) + 1];
        l.output.resize({members * rows, l.out}, device_);
        if (mode == nn::Mode::Train) {
          if (rows * l.norm.spatial < 2) {
            throw ShapeError(l.name + ": training needs more than one value a channel, got input " +
                             Shape{rows, l.in}.to_string());
          }
          be.batch_norm_forward_train_batched(l.norm, h, gamma.value.data(), beta.value.data(),
                                              members, rows, l.output.data(), l.batch_mean.data(),
                                              l.batch_inv_std.data(), l.running_mean.data(),
                                              l.running_var.data());
        } else {
          be.batch_norm_forward_eval_batched(l.norm, h, shared, gamma.value.data(),
                                             beta.value.data(), l.running_mean.data(),
                                             l.running_var.data(), members, rows, l.output.data());
        }
        shared = false;
        break;
      }
      case nn::LayerKind::Activation: {
        const int64_t n = total_rows * l.out;
        l.output.resize({total_rows, l.out}, device_);
        if (l.activation == nn::Activation::Relu) be.relu_forward(h, l.output.data(), n);
        if (l.activation == nn::Activation::Sigmoid) be.sigmoid_forward(h, l.output.data(), n);
        if (l.activation == nn::Activation::Tanh) be.tanh_forward(h, l.output.data(), n);
        break;
      }
      case nn::LayerKind::Dropout: {
        if (mode == nn::Mode::Eval) continue;  // the identity: h and `shared` stay
        // Per member, with its rate and its mask stream (as its solo Dropout draws them).
        const int64_t n = rows * l.out;
        l.output.resize({members * rows, l.out}, device_);
        l.mask.resize({members * rows, l.out}, device_);
        for (int64_t s = 0; s < members; ++s) {
          const auto m = static_cast<size_t>(slot_member_[static_cast<size_t>(s)]);
          const float p = dropout_rates_[m][static_cast<size_t>(l.dropout)];
          float* y = l.output.data() + s * n;
          float* mask = l.mask.data() + s * n;
          if (p > 0.0f) {
            be.dropout_forward(h + s * n, y, mask, n, p,
                               dropout_rngs_[m][static_cast<size_t>(l.dropout)].next_u64());
          } else {
            memory.copy(y, h + s * n, static_cast<size_t>(n) * sizeof(float));
            memory.fill(mask, static_cast<size_t>(n), 1.0f);
          }
        }
        break;
      }
      default:
        throw Error("population: unexpected layer");  // refused by the constructor
    }
    h = l.output.data();
    out = &l.output;
  }
  return *out;
}

// dlogits [P*rows, classes] -> every parameter's gradient [P, ...]; stops at the first dense
// layer, which needs no input gradient (as Sequential's first weighted layer).
void Population::backward(const Tensor& dlogits, int64_t rows) {
  auto& be = backend::backend(device_);
  const int64_t members = active();
  const float* g = dlogits.data();
  for (size_t i = layers_.size(); i-- > 0;) {
    Layer& l = layers_[i];
    const int64_t n = members * rows * l.out;
    switch (l.kind) {
      case nn::LayerKind::Dense: {
        // dW_p [out, in] = dy_p^T x_p;  db_p = sum_rows dy_p;  dx_p [rows, in] = dy_p W_p
        Parameter& w = params_[static_cast<size_t>(l.weight)];
        Parameter& b = params_[static_cast<size_t>(l.weight) + 1];
        be.gemm_strided_batched(Transpose::Yes, Transpose::No, l.out, l.in, rows, 1.0f, g, l.out,
                                rows * l.out, l.input, l.in, l.input_shared ? 0 : rows * l.in, 0.0f,
                                w.grad.data(), l.in, w.numel, members);
        be.column_sums_batched(g, members, rows, l.out, 0.0f, b.grad.data());
        if (!l.needs_input_grad) return;
        l.grad_input.resize({members * rows, l.in}, device_);
        be.gemm_strided_batched(Transpose::No, Transpose::No, rows, l.in, l.out, 1.0f, g, l.out,
                                rows * l.out, w.value.data(), l.in, w.numel, 0.0f,
                                l.grad_input.data(), l.in, rows * l.in, members);
        break;
      }
      case nn::LayerKind::Conv: {
        // Per member: dW_p, db_p and (unless the first weighted layer) dx_p. A training forward
        // never shares its input (only evaluation does), and the backward ops take none.
        if (l.input_shared) throw Error("population: backward after a shared-input forward");
        Parameter& w = params_[static_cast<size_t>(l.weight)];
        Parameter& b = params_[static_cast<size_t>(l.weight) + 1];
        l.grad_input.resize({l.needs_input_grad ? members * rows : 0, l.in}, device_);
        be.conv2d_backward_batched(l.conv, l.input, g, w.value.data(), members, rows, w.grad.data(),
                                   b.grad.data(),
                                   l.needs_input_grad ? l.grad_input.data() : nullptr, l.workspace);
        break;
      }
      case nn::LayerKind::MaxPool:
      case nn::LayerKind::AvgPool: {
        l.grad_input.resize({members * rows, l.in}, device_);
        const Tensor dy = Tensor::view(g, {members * rows, l.out}, device_);
        if (l.kind == nn::LayerKind::MaxPool) {
          be.max_pool2d_backward(l.pool, dy, l.mask, l.grad_input);
        } else {
          be.avg_pool2d_backward(l.pool, dy, l.grad_input);
        }
        break;
      }
      case nn::LayerKind::BatchNorm: {
        if (l.input_shared) throw Error("population: backward after a shared-input forward");
        Parameter& gamma = params_[static_cast<size_t>(l.weight)];
        Parameter& beta = params_[static_cast<size_t>(l.weight) + 1];
        l.grad_input.resize({l.needs_input_grad ? members * rows : 0, l.in}, device_);
        be.batch_norm_backward_batched(l.norm, l.input, g, gamma.value.data(), l.batch_mean.data(),
                                       l.batch_inv_std.data(), members, rows, gamma.grad.data(),
                                       beta.grad.data(),
                                       l.needs_input_grad ? l.grad_input.data() : nullptr);
        break;
      }
      case nn::LayerKind::Activation: {
        l.grad_input.resize({members * rows, l.out}, device_);
        const float* y = l.output.data();
        float* dx = l.grad_input.data();
        if (l.activation == nn::Activation::Relu) be.relu_backward(y, g, dx, n);
        if (l.activation == nn::Activation::Sigmoid) be.sigmoid_backward(y, g, dx, n);
        if (l.activation == nn::Activation::Tanh) be.tanh_backward(y, g, dx, n);
        break;
      }
      case nn::LayerKind::Dropout:
        l.grad_input.resize({members * rows, l.out}, device_);
        be.multiply(g, l.mask.data(), l.grad_input.data(), n);  // mask 1 where p = 0
        break;
      default:
        throw Error("population: unexpected layer");
    }
    if (!l.needs_input_grad) return;
    g = l.grad_input.data();
  }
}

void Population::update(const std::vector<float>& lrs) {
  auto& be = backend::backend(device_);
  const int64_t members = active();
  std::vector<float> momentum, decay;
  for (int64_t s = 0; s < members; ++s) {
    const MemberConfig& c = configs_[static_cast<size_t>(slot_member_[static_cast<size_t>(s)])];
    momentum.push_back(static_cast<float>(c.sgd.momentum));
    decay.push_back(static_cast<float>(adam_ ? c.adam.weight_decay : c.sgd.weight_decay));
  }
  if (adam_) {
    // Bias corrections of the shared step t, in double as optim::Adam computes them.
    const optim::AdamOptions& o = configs_[0].adam;
    const double t = static_cast<double>(optimizer_steps_ + 1);
    const backend::AdamStep step{
        .lr = 0,
        .beta1 = static_cast<float>(o.beta1),
        .beta2 = static_cast<float>(o.beta2),
        .eps = static_cast<float>(o.eps),
        .weight_decay = 0,
        .one_minus_beta1 = static_cast<float>(1.0 - o.beta1),
        .one_minus_beta2 = static_cast<float>(1.0 - o.beta2),
        .bias_correction1 = static_cast<float>(1.0 - std::pow(o.beta1, t)),
        .bias_correction2 = static_cast<float>(1.0 - std::pow(o.beta2, t)),
    };
    for (Parameter& p : params_) {
      be.adam_update_batched(p.value.data(), p.grad.data(), p.state[0].data(), p.state[1].data(),
                             members, p.numel, step, lrs.data(), decay.data());
    }
  } else {
    const bool nesterov = configs_[0].sgd.nesterov;
    for (Parameter& p : params_) {
      be.sgd_update_batched(p.value.data(), p.grad.data(),
                            p.state.empty() ? nullptr : p.state[0].data(), members, p.numel,
                            lrs.data(), momentum.data(), decay.data(), nesterov);
    }
  }
  ++optimizer_steps_;
}

// Every active member on the same batches of `data` (the input shared by the first layer's GEMM),
// as train::evaluate computes its mean loss and accuracy.
std::vector<Evaluation> Population::evaluate(const data::Dataset& data, DeviceImages& images) {
  auto& be = backend::backend(device_);
  const int64_t members = active();
  data::DataLoader loader(data, {.batch = configs_[0].train.eval_batch, .shuffle = false});
  loader.start_epoch(0);
  std::vector<int32_t> labels;
  std::vector<double> loss_sum(static_cast<size_t>(members), 0.0);
  std::vector<int64_t> correct(static_cast<size_t>(members), 0);
  int64_t count = 0;
  while (true) {
    rows_.clear();
    labels.clear();
    const int64_t rows = loader.next_indices(rows_, labels);
    if (rows == 0) break;
    images.gather(rows_, batch_);  // one batch for every member
    labels_.resize(static_cast<size_t>(members * rows));
    for (int64_t s = 0; s < members; ++s) {
      std::copy(labels.begin(), labels.end(), labels_.begin() + s * rows);
    }
    const Tensor& logits = forward(batch_.data(), true, rows, nn::Mode::Eval);
    probs_.resize(logits.shape(), device_);
    losses_.resize(static_cast<size_t>(members));
    correct_.resize(static_cast<size_t>(members));
    be.softmax_cross_entropy_batched(logits.data(), labels_.data(), members, rows, classes_,
                                     probs_.data(), losses_.data());
    be.count_correct_batched(logits.data(), labels_.data(), members, rows, classes_,
                             correct_.data());
    for (size_t s = 0; s < static_cast<size_t>(members); ++s) {
      loss_sum[s] += losses_[s] / static_cast<double>(rows) * static_cast<double>(rows);
      correct[s] += correct_[s];
    }
    count += rows;
  }
  std::vector<Evaluation> out(static_cast<size_t>(members));
  if (count == 0) return out;
  for (size_t s = 0; s < out.size(); ++s) {
    out[s] = {loss_sum[s] / static_cast<double>(count),
              static_cast<double>(correct[s]) / static_cast<double>(count), count};
  }
  return out;
}

}  // namespace krill::train
