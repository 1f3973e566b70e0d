#!/usr/bin/env python3
"""Eager PyTorch SpaceByte: the baseline that `launch/bench_side_by_side.sh`
times next to `spacebyte bench`.

It computes what ../shared/spacebyte-spec.md states, the way the public
reference runs on a CPU: nn.Linear layers, windowed attention as a full
score matrix with a mask, per-row patch gathering, torch.optim.AdamW with
per-parameter learning rates and clip_grad_norm_. Parameter names equal the
reference's state dict, so `--check` loads the golden files and compares
logits and loss before anything is timed: the baseline is only a fair
stand-in for the reference if it computes the same numbers.

Needs Debian's python3-torch (LibTorch 1.13, the same library as ours).

With --device cuda it runs the way the reference trains on a GPU: bf16
autocast, AdamW(fused=True), flash attention (SDPA for the causal global
blocks; for the local ones FlashAttention's sliding window, as the
reference calls flash_attn with a window, here through the same kernel in
PyTorch's build; --local_attention mask: SDPA with a band mask), patch
gathering without per-row loops, and with --mode compile, torch.compile.
"""
import argparse
import contextlib
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


class Norm(nn.Module):
    def __init__(self, width, kind):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(width))
        self.rms = kind.lower() == "rmsnorm"

    def forward(self, x):
        if not self.rms:
            return F.layer_norm(x, x.shape[-1:], self.scale, None, 1e-5)
        var = x.var(-1, unbiased=False, keepdim=True)
        return x * self.scale / torch.sqrt(var + 1e-5)


def rope(x):
    """Rotates consecutive pairs of each head vector; x is [B, H, L, d_key]."""
    length, d_key = x.shape[-2], x.shape[-1]
    freq = 10000.0 ** (-torch.arange(0, d_key, 2, dtype=torch.float32, device=x.device) / d_key)
    angle = torch.arange(length, dtype=torch.float32, device=x.device)[:, None] * freq[None, :]
    cos, sin = angle.cos(), angle.sin()
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack((even * cos - odd * sin, even * sin + odd * cos), -1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, width, cfg, window):
        super().__init__()
        self.d_key, self.window, self.rope = cfg["d_key"], window, cfg["rope"]
        self.flash_window = cfg.get("local_attention", "flash") == "flash"
        self.layer_norm = Norm(width, cfg["layer_norm"])
        self.QKV_linear = nn.Linear(width, 3 * width, bias=False)
        self.Q_layer_norm = Norm(self.d_key, cfg["layer_norm"])
        self.K_layer_norm = Norm(self.d_key, cfg["layer_norm"])
        self.linear = nn.Linear(width, width, bias=False)

    def forward(self, x):
        batch, length, width = x.shape
        heads = width // self.d_key
        qkv = self.QKV_linear(self.layer_norm(x))
        qkv = qkv.view(batch, length, 3, heads, self.d_key).permute(2, 0, 3, 1, 4)
        q, k, v = self.Q_layer_norm(qkv[0]), self.K_layer_norm(qkv[1]), qkv[2]
        if self.rope:
            q, k = rope(q), rope(k)
        if x.is_cuda and self.window is not None and self.flash_window:
            # Keys p - window .. p, the spec's W + 1 (the reference's flash
            # path passes W - 1 and sees W); [B, L, H, d_key] in bf16.
            q, k, v = (t.transpose(1, 2).to(torch.bfloat16) for t in (q, k, v))
            out = torch.ops.aten._flash_attention_forward(
                q, k, v, None, None, length, length, 0.0, True, False,
                window_size_left=self.window, window_size_right=0)[0]
            return self.linear(out.reshape(batch, length, width))
        pos = torch.arange(length, device=x.device)
        offset = pos[:, None] - pos[None, :]
        allowed = offset >= 0
        if self.window is not None:
            allowed &= offset <= self.window
        if x.is_cuda:
            out = (F.scaled_dot_product_attention(q, k, v, is_causal=True) if self.window is None
                   else F.scaled_dot_product_attention(q, k, v, attn_mask=allowed))
        else:
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_key)
            scores = scores.masked_fill(~allowed, float("-inf"))
            out = scores.softmax(-1) @ v
        return self.linear(out.transpose(1, 2).reshape(batch, length, width))


class FeedForward(nn.Module):
    def __init__(self, width, cfg):
        super().__init__()
        self.layer_norm = Norm(width, cfg["layer_norm"])
        self.linear_1 = nn.Linear(width, cfg["d_ff_mult"] * width, bias=False)
        self.linear_2 = nn.Linear(cfg["d_ff_mult"] * width, width, bias=False)
        self.gelu = cfg["nonlinear"].lower() == "gelu"

    def forward(self, x):
        h = self.linear_1(self.layer_norm(x))
        h = F.gelu(h, approximate="tanh") if self.gelu else F.relu(h)
        return self.linear_2(h)


class Block(nn.Module):
    def __init__(self, width, cfg, window):
        super().__init__()
        self.attention = Attention(width, cfg, window)
        self.feedforward = FeedForward(width, cfg)

    def forward(self, x):
        x = x + self.attention(x)
        return x + self.feedforward(x)


class Logits(nn.Module):
    def __init__(self, width, cfg):
        super().__init__()
        self.layer_norm = Norm(width, cfg["layer_norm"])
        self.logits_linear = nn.Linear(width, 256, bias=False)

    def forward(self, x):
        return self.logits_linear(self.layer_norm(x))


def spacelike(b):
    return ((b < ord("0")) | ((b > ord("9")) & (b < ord("A"))) | ((b > ord("Z")) & (b < ord("a")))
            | ((b > ord("z")) & (b < 0x80)) | (b >= 0xC0))


class SpaceByte(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        D, d, T = cfg["d_model"], cfg["d_local"], cfg["context_size"]
        self.cfg = cfg
        self.token_embedding = nn.Embedding(256, d)
        self.local_position_encoding = nn.Parameter(torch.randn(T, d))
        self.global_position_encoding = nn.Parameter(torch.randn(cfg["global_context_size"], D))
        window = cfg["local_attention_window"]
        n_initial = cfg["n_initial_layers"]
        self.initial_blocks = nn.ModuleList(Block(d, cfg, window) for _ in range(n_initial))
        self.global_blocks = nn.ModuleList(Block(D, cfg, None) for _ in range(cfg["n_layers"]))
        self.final_blocks = nn.ModuleList(
            Block(d, cfg, window) for _ in range(cfg["n_local_layers"] - n_initial))
        self.logits = Logits(d, cfg)
        for name, p in self.named_parameters():
            if name.endswith(".weight") and "embedding" not in name:
                nn.init.normal_(p, std=p.shape[1] ** -0.5)
            elif "embedding" in name:
                nn.init.normal_(p)

    def is_boundary(self, tokens):
        T, TG = tokens.shape[1], self.cfg["global_context_size"]
        if self.cfg["patch_method"] == "periodic":
            is_boundary = torch.zeros_like(tokens, dtype=torch.bool)
            is_boundary[:, ::T // TG] = True
            return is_boundary
        space = spacelike(tokens)
        before = F.pad(space[:, :-1], (1, 0), value=False)
        return (space & ~before) | (tokens == 255)

    def dense_boundaries(self, tokens):
        """(global_ts [B, TG], counts [B], first ignored target [B]) with fixed
        shapes and no host sync: what a GPU (and torch.compile) needs."""
        B, T = tokens.shape
        TG = self.cfg["global_context_size"]
        is_boundary = self.is_boundary(tokens)
        rank = is_boundary.long().cumsum(1) - 1
        pos = torch.arange(T, device=tokens.device).expand(B, T)
        slot = torch.where(is_boundary & (rank < TG), rank, TG)
        global_ts = torch.full((B, TG + 1), T - 1, dtype=torch.long, device=tokens.device)
        global_ts = global_ts.scatter(1, slot, pos)[:, :TG]
        counts = (is_boundary & (rank < TG)).sum(1)
        overflow = torch.where(is_boundary & (rank == TG), pos, T).amin(1)
        return global_ts, counts, overflow

    def boundaries(self, tokens):
        TG = self.cfg["global_context_size"]
        is_boundary = self.is_boundary(tokens)
        rows = []
        for row in is_boundary:
            ts = row.nonzero().flatten()
            rows.append((ts[:TG], ts[TG] if len(ts) > TG else None))
        return rows

    def forward(self, tokens, targets=None):
        B, T = tokens.shape
        D, d, TG = self.cfg["d_model"], self.cfg["d_local"], self.cfg["global_context_size"]
        x = self.token_embedding(tokens) + self.local_position_encoding[:T]
        for block in self.initial_blocks:
            x = block(x)
        if tokens.is_cuda:
            global_ts, counts, overflow = self.dense_boundaries(tokens)
            if targets is not None:
                pos = torch.arange(T, device=tokens.device)[None, :]
                targets = targets.masked_fill(pos >= overflow[:, None], -1)
        else:
            rows = self.boundaries(tokens)
            global_ts = torch.full((B, TG), T - 1, dtype=torch.long)
            counts = []
            for b, (ts, overflow) in enumerate(rows):
                global_ts[b, :len(ts)] = ts
                counts.append(len(ts))
                if overflow is not None and targets is not None:
                    targets = targets.clone()
                    targets[b, overflow:] = -1
            counts = torch.tensor(counts)
        gathered = x.gather(1, global_ts[:, :, None].expand(B, TG, d))
        y = F.pad(gathered, (D - d, 0)) + self.global_position_encoding
        for block in self.global_blocks:
            y = block(y)
        real = torch.arange(TG, device=x.device)[None, :] < counts[:, None]
        update = torch.where(real[:, :, None], y[:, :, D - d:], torch.zeros((), device=x.device,
                                                                            dtype=y.dtype))
        x = x.scatter_add(1, global_ts[:, :, None].expand(B, TG, d), update)
        for block in self.final_blocks:
            x = block(x)
        logits = self.logits(x)
        if targets is None:
            return logits, None
        per_byte = F.cross_entropy(logits.float().transpose(1, 2), targets, ignore_index=-1,
                                   reduction="none")
        kept = (targets >= 0).float()
        loss = ((per_byte * kept).sum(1) / kept.sum(1).clamp(min=1)).mean()
        return logits, loss


def check_golden(paths):
    worst = 0.0
    for path in paths:
        golden = torch.load(path)
        model = SpaceByte(golden["model_config"]).eval()
        model.load_state_dict(golden["state_dict"])
        with torch.no_grad():
            logits, loss = model(golden["tokens"], golden["targets"])
        logit_err = (logits - golden["logits"]).abs().max().item()
        loss_err = abs(loss.item() - golden["loss"].item()) / golden["loss"].item()
        print(f"{path}: logits max abs error {logit_err:.2e}, loss rel error {loss_err:.2e}")
        if logit_err > 1e-4 or loss_err > 1e-5:
            sys.exit(f"{path}: the baseline does not reproduce the reference")
        worst = max(worst, logit_err)
    return worst


def read_config(path):
    """Reads the model and batch size from a spacebyte textproto (flat fields only)."""
    cfg = dict(d_key=64, d_ff_mult=4, rope=False, layer_norm="LayerNorm", nonlinear="ReLU",
               patch_method="utf8")
    section = None
    for line in open(path):
        line = line.split("#")[0].strip()
        if line.endswith("{"):
            section = line[:-1].strip()
        elif line == "}":
            section = None
        elif ":" in line:
            key, value = (s.strip() for s in line.split(":", 1))
            value = value.strip('"')
            if value.lower() in ("true", "false"):
                value = value.lower() == "true"
            elif value.lstrip("-").isdigit():
                value = int(value)
            cfg[(section or "") + "." + key] = value
    model = {k.split(".", 1)[1]: v for k, v in cfg.items() if k.startswith("model.")}
    model = {**{k: v for k, v in cfg.items() if "." not in k}, **model}
    model.setdefault("n_initial_layers", model["n_local_layers"] // 2)
    model.setdefault("local_attention_window", model["d_local"])
    if model.get("kind", "spacebyte") != "spacebyte":
        sys.exit(f"{path}: the baseline runs SpaceByte models only")
    return model, cfg.get("train.batch_size", 4)


def trace_step(step, cuda, trace_dir, top=25):
    """One more step under torch.profiler: the Chrome trace to
    TRACE_DIR/trace.json and the largest operators in the shape `spacebyte
    bench --trace` gives them: on CUDA the GPU's kernels by device time, on
    the CPU the operators by self time."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if cuda:
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        step()
        if cuda:
            torch.cuda.synchronize()
    os.makedirs(trace_dir, exist_ok=True)
    path = os.path.join(trace_dir, "trace.json")
    prof.export_chrome_trace(path)
    rows = {}
    if cuda:
        # Each kernel once: those the profiler lists as device events, or
        # else those it attached to the operators that launched them.
        device = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        kernels = [(e.name, e.time_range.elapsed_us()) for e in device] or [
            (k.name, k.duration) for e in prof.events() for k in e.kernels]
        for name, us in kernels:
            r = rows.setdefault(name, [0.0, 0])
            r[0] += us / 1e3
            r[1] += 1
        basis = "cuda kernels (device time)"
    else:
        for avg in prof.key_averages():
            rows[avg.key] = [avg.self_cpu_time_total / 1e3, avg.count]
        basis = "cpu operators (self time)"
    ops = sorted(({"name": k, "ms": v[0], "calls": v[1]} for k, v in rows.items()),
                 key=lambda op: -op["ms"])
    return {"top_ops": ops[:top], "top_ops_basis": basis,
            "top_ops_total_ms": sum(op["ms"] for op in ops), "trace": path}


def bench(config_path, steps, warmup, threads, device="cpu", mode="eager", batch=None,
          micro_batch=None, local_attention="flash", trace=None):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg, config_batch = read_config(config_path)
    cfg["local_attention"] = local_attention
    batch = batch or config_batch
    micro_batch = micro_batch or batch
    T = cfg["context_size"]
    cuda = device == "cuda"
    model = SpaceByte(cfg).to(device)
    lr = 0.005 * math.sqrt(batch)
    groups = [{"params": [p], "lr": lr * (p.shape[1] ** -0.5 if n.endswith(".weight")
                                          and "embedding" not in n else 1.0)}
              for n, p in model.named_parameters()]
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), weight_decay=0.01,
                                  **({"fused": True} if cuda else {}))
    letters = torch.randint(ord("a"), ord("z") + 1, (batch, T))
    targets = letters.masked_fill(torch.rand(batch, T) < 1 / 6, ord(" ")).to(device)
    tokens = F.pad(targets[:, :-1], (1, 0), value=255)
    forward = torch.compile(model) if mode == "compile" else model

    def step():
        optimizer.zero_grad(set_to_none=True)
        total = 0
        for start in range(0, batch, micro_batch):
            # Not even a disabled CUDA autocast on the CPU: LibTorch 1.13's
            # asks the (absent) GPU whether it has bf16.
            with torch.autocast("cuda", torch.bfloat16) if cuda else contextlib.nullcontext():
                _, loss = forward(tokens[start:start + micro_batch],
                                  targets[start:start + micro_batch])
            (loss * (micro_batch / batch)).backward()
            total = total + loss.detach() * (micro_batch / batch)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return total.item()

    for _ in range(warmup):
        step()
    traced = {}
    if trace:
        # A profiler that cannot start (no CUPTI, say) costs the trace, not
        # the figures.
        try:
            traced = trace_step(step, cuda, trace)
        except Exception as e:  # noqa: BLE001: any failure of the profiler
            traced = {"trace_error": f"{type(e).__name__}: {e}".splitlines()[0]}
            print(f"pytorch_baseline: no trace: {traced['trace_error']}", file=sys.stderr)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        loss = step()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    params = sum(p.numel() for p in model.parameters())
    row = dict(impl=f"pytorch_{mode}", config=config_path, threads=threads, device=device,
               batch=batch, micro_batch=micro_batch,
               steps=steps, bytes_per_s=round(steps * batch * T / wall, 1),
               step_s=round(wall / steps, 4), cpu_s_per_step=round(cpu / steps, 4),
               loss=round(loss, 4), params=params, torch=torch.__version__)
    if cuda:
        row["local_attention"] = local_attention
        row["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        row["gpu"] = torch.cuda.get_device_name()
    row.update(traced)
    print(json.dumps(row))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", nargs="*", default=[],
                        help="golden .pt files the baseline must reproduce")
    parser.add_argument("--config", help="spacebyte textproto to time (model and batch_size)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--mode", default="eager", choices=["eager", "compile"])
    parser.add_argument("--batch", type=int, help="global batch [the config's]")
    parser.add_argument("--micro_batch", type=int, help="rows per forward [--batch]")
    parser.add_argument("--local_attention", default="flash", choices=["flash", "mask"],
                        help="CUDA local blocks: FlashAttention's sliding window or SDPA "
                        "with a band mask")
    parser.add_argument("--trace", metavar="DIR",
                        help="profile one more step: DIR/trace.json and top_ops in the row")
    args = parser.parse_args()
    if args.check:
        check_golden(args.check)
    if args.config:
        bench(args.config, args.steps, args.warmup, args.threads, args.device, args.mode,
              args.batch, args.micro_batch, args.local_attention, args.trace)


if __name__ == "__main__":
    main()
