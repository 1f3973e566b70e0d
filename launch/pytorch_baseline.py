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
"""
import argparse
import json
import math
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
    freq = 10000.0 ** (-torch.arange(0, d_key, 2, dtype=torch.float32) / d_key)
    angle = torch.arange(length, dtype=torch.float32)[:, None] * freq[None, :]
    cos, sin = angle.cos(), angle.sin()
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack((even * cos - odd * sin, even * sin + odd * cos), -1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, width, cfg, window):
        super().__init__()
        self.d_key, self.window, self.rope = cfg["d_key"], window, cfg["rope"]
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
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_key)
        offset = torch.arange(length)[:, None] - torch.arange(length)[None, :]
        allowed = offset >= 0
        if self.window is not None:
            allowed &= offset <= self.window
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

    def boundaries(self, tokens):
        T, TG = tokens.shape[1], self.cfg["global_context_size"]
        if self.cfg["patch_method"] == "periodic":
            is_boundary = torch.zeros_like(tokens, dtype=torch.bool)
            is_boundary[:, ::T // TG] = True
        else:
            space = spacelike(tokens)
            before = F.pad(space[:, :-1], (1, 0), value=False)
            is_boundary = (space & ~before) | (tokens == 255)
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
        rows = self.boundaries(tokens)
        global_ts = torch.full((B, TG), T - 1, dtype=torch.long)
        counts = []
        for b, (ts, overflow) in enumerate(rows):
            global_ts[b, :len(ts)] = ts
            counts.append(len(ts))
            if overflow is not None and targets is not None:
                targets = targets.clone()
                targets[b, overflow:] = -1
        gathered = x.gather(1, global_ts[:, :, None].expand(B, TG, d))
        y = F.pad(gathered, (D - d, 0)) + self.global_position_encoding
        for block in self.global_blocks:
            y = block(y)
        real = torch.arange(TG)[None, :] < torch.tensor(counts)[:, None]
        update = torch.where(real[:, :, None], y[:, :, D - d:], torch.zeros(()))
        x = x.scatter_add(1, global_ts[:, :, None].expand(B, TG, d), update)
        for block in self.final_blocks:
            x = block(x)
        logits = self.logits(x)
        if targets is None:
            return logits, None
        per_byte = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-1,
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
    if model.get("kind", "spacebyte") != "spacebyte":
        sys.exit(f"{path}: the baseline runs SpaceByte models only")
    return model, cfg.get("train.batch_size", 4)


def bench(config_path, steps, warmup, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg, batch = read_config(config_path)
    T = cfg["context_size"]
    model = SpaceByte(cfg)
    lr = 0.005 * math.sqrt(batch)
    groups = [{"params": [p], "lr": lr * (p.shape[1] ** -0.5 if n.endswith(".weight")
                                          and "embedding" not in n else 1.0)}
              for n, p in model.named_parameters()]
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    letters = torch.randint(ord("a"), ord("z") + 1, (batch, T))
    targets = letters.masked_fill(torch.rand(batch, T) < 1 / 6, ord(" "))
    tokens = F.pad(targets[:, :-1], (1, 0), value=255)

    def step():
        optimizer.zero_grad(set_to_none=True)
        _, loss = model(tokens, targets)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()

    for _ in range(warmup):
        step()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        loss = step()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps(dict(impl="pytorch_eager", config=config_path, threads=threads,
                          steps=steps, bytes_per_s=round(steps * batch * T / wall, 1),
                          step_s=round(wall / steps, 4), cpu_s_per_step=round(cpu / steps, 4),
                          loss=round(loss, 4), params=params,
                          torch=torch.__version__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", nargs="*", default=[],
                        help="golden .pt files the baseline must reproduce")
    parser.add_argument("--config", help="spacebyte textproto to time (model and batch_size)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.check:
        check_golden(args.check)
    if args.config:
        bench(args.config, args.steps, args.warmup, args.threads)


if __name__ == "__main__":
    main()
