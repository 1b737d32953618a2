#!/usr/bin/env python3
"""PyTorch's side of the GPU benchmark of issue 13 (bench/gpu/run.sh runs it beside krill_gpu_bench).

The model is the 784-512-256-10 MLP (ReLU, torch.nn.Linear's initialisation), SGD with momentum
0.9, cross-entropy, no evaluation. Modes:
  single:     one model, lr 0.05, torch.nn + torch.optim.SGD.
  sequential: P models (--members) trained one after the other, as P separate PyTorch runs would
              be (member p: seed p+1, lr 0.01 + 0.09 p/(P-1)). Only --timed-members of them are
              trained and timed (default: all); the time is scaled by P / timed, and the JSON says
              so ("timed_members", "scaled").
  batched:    the same P members in one model: weights [P, in, out], activations [P, B, features],
              torch.baddbmm per layer, per-member losses (their sum is backpropagated: members do
              not interact), a hand-written SGD-momentum update with per-member lr as a [P, 1, 1]
              tensor, each member its own data order.
FP32 against FP32: TF32 is off (torch.backends.cuda.matmul.allow_tf32 = False, cudnn's too,
float32 matmul precision "highest"), as krill's cuBLAS GEMMs run without TF32.
Data: --data DIR (IDX folder, MNIST's file names) or by default 60,000 synthetic 28x28 images
with 10 classes; the whole set is put on the device once (not timed) and batches are indexed there
(PyTorch's fastest way; krill does the same, keeping the pixels as bytes, and counts the upload in
its time). The loss is not read back during training (no per-step synchronisation; krill reads it
for its NaN check).
Timing: one warm-up step on a separate model first, untimed; then torch.cuda.synchronize() before
starting and before stopping the clock, which covers the training loop only.
Prints one JSON line: engine, mode, device, batch, members, epochs, steps, seconds,
model_epochs_per_second, final_losses (the first few members' mean training loss over the run).
--limit-steps N trains N steps per member instead of --epochs (smoke tests).

Usage: /usr/bin/python3 torch_population.py --device cuda --mode batched --members 64 --batch 32
"""
import argparse, gzip, json, math, os, struct, sys, time

import torch
import torch.nn.functional as F

CLASSES = 10
DIMS = [784, 512, 256, 10]
LOSSES_SHOWN = 4


def read_idx(folder, stem):
    """An unsigned-byte IDX file (raw or .gz) as a uint8 tensor of its dimensions."""
    for name in (stem, stem + ".gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                raw = f.read()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            if raw[:3] != b"\0\0\x08":
                sys.exit(f"torch_population.py: {path} is not an unsigned-byte IDX file")
            rank = raw[3]
            dims = struct.unpack(">" + "I" * rank, raw[4:4 + 4 * rank])
            return torch.frombuffer(bytearray(raw[4 + 4 * rank:]), dtype=torch.uint8).reshape(dims)
    sys.exit(f"torch_population.py: {stem}[.gz] not found in {folder}")


def load_data(folder, device):
    """60,000 x 784 float pixels in [0, 1] and int64 labels, on `device`."""
    if folder:  # MNIST's file names, as krill's data::load_idx
        x = read_idx(folder, "train-images-idx3-ubyte").reshape(-1, 784).float() / 255.0
        y = read_idx(folder, "train-labels-idx1-ubyte").long()
    else:  # synthetic, MNIST's shape: pixels as krill's (uint8 / 255), uniform labels
        g = torch.Generator().manual_seed(1)
        x = torch.randint(0, 256, (60000, 784), generator=g, dtype=torch.uint8).float() / 255.0
        y = torch.randint(0, CLASSES, (60000,), generator=g)
    return x.to(device), y.to(device)


def member_lr(p, members):
    return 0.05 if members == 1 else 0.01 + 0.09 * p / (members - 1)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_single(x, y, batch, steps, lr, seed, device):
    """One model for `steps` steps; returns (seconds, mean loss)."""
    torch.manual_seed(seed)
    layers = []
    for i in range(3):
        layers.append(torch.nn.Linear(DIMS[i], DIMS[i + 1]))
        if i < 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    n = len(x)
    per_epoch = math.ceil(n / batch)
    gen = torch.Generator(device=device).manual_seed(seed)
    total = torch.zeros((), device=device)
    sync(device)
    t0 = time.perf_counter()
    step = 0
    while step < steps:
        perm = torch.randperm(n, device=device, generator=gen)
        for i in range(min(per_epoch, steps - step)):
            b = perm[i * batch:(i + 1) * batch]
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
            step += 1
    sync(device)
    return time.perf_counter() - t0, total.item() / steps


def train_batched(x, y, batch, steps, members, device, seed=1):
    """`members` models in one: returns (seconds, per-member mean losses)."""
    torch.manual_seed(seed)
    ws, bs, vws, vbs = [], [], [], []
    for i in range(3):
        bound = 1.0 / math.sqrt(DIMS[i])  # nn.Linear's init: U(-1/sqrt(in), 1/sqrt(in))
        w = torch.empty(members, DIMS[i], DIMS[i + 1], device=device).uniform_(-bound, bound)
        b = torch.empty(members, 1, DIMS[i + 1], device=device).uniform_(-bound, bound)
        ws.append(w.requires_grad_())
        bs.append(b.requires_grad_())
        vws.append(torch.zeros_like(w))
        vbs.append(torch.zeros_like(b))
    params, velocities = ws + bs, vws + vbs
    lr = torch.tensor([member_lr(p, members) for p in range(members)], device=device).view(members, 1, 1)
    n = len(x)
    per_epoch = math.ceil(n / batch)
    gen = torch.Generator(device=device).manual_seed(seed)
    total = torch.zeros(members, device=device)
    sync(device)
    t0 = time.perf_counter()
    step = 0
    while step < steps:
        # Each member its own order: [P, n] permutations.
        perms = torch.argsort(torch.rand(members, n, device=device, generator=gen), dim=1)
        for i in range(min(per_epoch, steps - step)):
            idx = perms[:, i * batch:(i + 1) * batch]  # [P, B] (the last batch may be shorter)
            h = x[idx]  # [P, B, 784]
            for l in range(3):
                h = torch.baddbmm(bs[l], h, ws[l])
                if l < 2:
                    h = torch.relu(h)
            rows = idx.shape[1]
            losses = F.cross_entropy(h.reshape(members * rows, CLASSES), y[idx].reshape(-1),
                                     reduction="none").view(members, rows).mean(dim=1)
            grads = torch.autograd.grad(losses.sum(), params)
            with torch.no_grad():  # SGD with momentum 0.9, dampening 0: v = 0.9 v + g; w -= lr v
                torch._foreach_mul_(velocities, 0.9)
                torch._foreach_add_(velocities, grads)
                for w, v in zip(params, velocities):
                    w.sub_(lr * v)
                total += losses.detach()
            step += 1
    sync(device)
    return time.perf_counter() - t0, (total / steps).tolist()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--mode", default="single", choices=["single", "sequential", "batched"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--members", type=int, default=16)
    ap.add_argument("--timed-members", type=int, default=0,
                    help="sequential: train and time only this many members, scale (default: all)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--limit-steps", type=int, default=0, help="N steps per member instead of --epochs")
    ap.add_argument("--data", default="", help="IDX folder (default: synthetic data of MNIST's shape)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's)")
    a = ap.parse_args()

    if a.device == "cuda" and not torch.cuda.is_available():
        print(f"torch_population.py: --device cuda: this torch ({torch.__version__}, CUDA "
              f"{torch.version.cuda}) sees no GPU", file=sys.stderr)
        sys.exit(2)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)

    x, y = load_data(a.data, device)
    per_epoch = math.ceil(len(x) / a.batch)
    steps = a.limit_steps if a.limit_steps > 0 else a.epochs * per_epoch
    members = 1 if a.mode == "single" else a.members
    timed = members
    extra = {}

    if a.mode == "batched":
        train_batched(x, y, a.batch, 1, members, device)  # warm-up
        seconds, losses = train_batched(x, y, a.batch, steps, members, device)
    else:
        train_single(x, y, a.batch, 1, 0.05, 0, device)  # warm-up
        if a.mode == "single":
            seconds, loss = train_single(x, y, a.batch, steps, 0.05, 1, device)
            losses = [loss]
        else:
            timed = min(members, a.timed_members) if a.timed_members > 0 else members
            seconds, losses = 0.0, []
            for p in range(timed):
                s, loss = train_single(x, y, a.batch, steps, member_lr(p, members), p + 1, device)
                seconds += s
                losses.append(loss)
            extra = dict(timed_members=timed, timed_seconds=round(seconds, 6), scaled=timed < members)
            seconds *= members / timed

    epochs = steps / per_epoch
    print(json.dumps(dict(
        engine="torch", mode=a.mode, device=a.device, batch=a.batch, members=members,
        epochs=round(epochs, 6), steps=steps, seconds=round(seconds, 6),
        model_epochs_per_second=round(members * epochs / seconds, 6),
        final_losses=[round(v, 6) for v in losses[:LOSSES_SHOWN]],
        data=a.data or "synthetic", torch=torch.__version__, torch_cuda=torch.version.cuda,
        gpu=torch.cuda.get_device_name(0) if a.device == "cuda" else None,
        tf32=False, **extra)), flush=True)


if __name__ == "__main__":
    main()
