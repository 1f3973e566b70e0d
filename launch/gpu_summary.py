#!/usr/bin/env python3
"""Writes OUT/summary.json and OUT/summary.md from what launch/gpu_check.sh
left in OUT: stage results, bench and baseline JSON lines, the bf16/fp32
loss curves and the tiny CUDA run. Called after every stage, so a check cut
short still leaves a summary.

usage: gpu_summary.py OUT NOW T0 "stage=result=seconds\\n..."
"""
import glob
import json
import os
import sys


def json_lines(path):
    rows = []
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return rows


def last(path):
    rows = json_lines(path)
    return rows[-1] if rows else None


def main():
    out, now, t0, stage_lines = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    summary = {"seconds": now - t0, "stages": {}}
    for line in stage_lines.splitlines():
        name, result, secs = line.split("=", 2)
        summary["stages"][name] = {"result": result, "seconds": int(secs)}

    env = os.path.join(out, "env.log")
    if os.path.exists(env):
        summary["env"] = open(env).read().strip().splitlines()[:12]

    bench = {}
    for path in sorted(glob.glob(os.path.join(out, "bench_*.json"))):
        row = last(path)
        if row:
            keep = ("bytes_per_s", "step_s", "mfu", "mfu_basis", "achieved_gflops",
                    "matmul_peak_gflops", "peak_gpu_memory_mb", "gpu", "model_flops_per_byte",
                    "local_attention", "qk_norm_rope", "pre_norm", "residual_add", "ff_relu",
                    "eval_bytes_per_s")
            bench[os.path.basename(path)[6:-5]] = {k: row[k] for k in keep if k in row}
    summary["bench"] = bench
    # The traced step's largest kernels, ours and the baseline's alike.
    summary["top_ops"] = {}
    for path in sorted(glob.glob(os.path.join(out, "bench_*.json")) +
                       glob.glob(os.path.join(out, "baseline_*.json"))):
        row = last(path)
        if row and row.get("top_ops"):
            summary["top_ops"][os.path.basename(path)[:-5]] = {
                "basis": row["top_ops_basis"], "total_ms": row["top_ops_total_ms"],
                "ops": row["top_ops"]}

    baseline = {}
    for path in sorted(glob.glob(os.path.join(out, "baseline_*.json"))):
        row = last(path)
        if row:
            baseline[os.path.basename(path)[9:-5]] = {
                k: v for k, v in row.items() if not k.startswith("top_ops")}
    # The baseline computes the same model: its MFU uses our FLOP count and
    # the same datasheet peak.
    for name, row in baseline.items():
        ours = bench.get(row.get("config", "").split("/")[-1].replace(".textproto", "") +
                         f"_mb{row.get('micro_batch')}")
        if ours and ours.get("mfu"):
            peak_gflops = ours["achieved_gflops"] / ours["mfu"]
            row["mfu"] = row["bytes_per_s"] * ours["model_flops_per_byte"] / 1e9 / peak_gflops
            row["ours_over_baseline"] = ours["bytes_per_s"] / row["bytes_per_s"]
    summary["baseline"] = baseline

    curves = {}
    for path in glob.glob(os.path.join(out, "precision_*.jsonl")):
        curves[os.path.basename(path)[10:-6]] = [
            r["loss"] for r in json_lines(path) if "loss" in r and "split" not in r]
    if "cpu_fp32" in curves and "cuda_bf16" in curves:
        a, b = curves["cpu_fp32"], curves["cuda_bf16"]
        n = min(len(a), len(b))
        summary["precision"] = {
            "steps": n, "cpu_fp32": a[:n], "cuda_bf16": b[:n],
            "max_abs_loss_diff": max((abs(x - y) for x, y in zip(a, b)), default=None)}

    tiny = json_lines(os.path.join(out, "tiny_cuda_metrics.jsonl"))
    if tiny:
        train_rows = [r for r in tiny if "split" not in r]
        summary["tiny_cuda"] = {"last": train_rows[-1] if train_rows else None,
                                "eval": last(os.path.join(out, "tiny_cuda_eval.json")),
                                "eval_fp32": last(os.path.join(out, "tiny_cuda_eval_fp32.json"))}

    # The goals, from the 1e19 runs: our best run (micro-batch, and
    # kernels on or off, as its name says) against the compiled baseline,
    # and MFU against the datasheet peak.
    ours_1e19 = {k: v for k, v in bench.items() if k.startswith("spacebyte_1e19_mb")}
    compiled = baseline.get("spacebyte_1e19_compile")
    if ours_1e19:
        name, best = max(ours_1e19.items(), key=lambda kv: kv[1].get("bytes_per_s", 0))
        headline = {"ours": name, "bytes_per_s": best.get("bytes_per_s"), "mfu": best.get("mfu"),
                    "mfu_basis": best.get("mfu_basis")}
        if compiled and compiled.get("bytes_per_s"):
            headline["over_compiled_baseline"] = best["bytes_per_s"] / compiled["bytes_per_s"]
        summary["headline"] = headline

    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)

    md = ["# GPU check", "", f"{summary['seconds']} s in all.", ""]
    if "headline" in summary:
        h = summary["headline"]
        ratio = h.get("over_compiled_baseline")
        md += [f"**1e19 shapes, best of ours ({h['ours']}): {h['bytes_per_s'] or 0:.0f} bytes/s, "
               f"MFU {h['mfu'] or 0:.3f} ({h['mfu_basis']}); "
               + (f"{ratio:.2f}x the compiled PyTorch baseline.**" if ratio else
                  "no compiled baseline figure.**")
               + " Goals: MFU >= 0.45, >= 1.5x.", ""]
    md += ["| stage | result | seconds |", "|---|---|---|"]
    md += [f"| {k} | {v['result']} | {v['seconds']} |" for k, v in summary["stages"].items()]
    for title, rows in (("spacebyte bench", bench), ("PyTorch baseline", baseline)):
        if rows:
            md += ["", f"| {title} | bytes/s | step s | MFU | peak GPU MiB | local attention "
                   "| Q/K norm + RoPE | pre-norms | residual adds | ReLU |",
                   "|---|---|---|---|---|---|---|---|---|---|"]
            md += [f"| {k} | {v.get('bytes_per_s', 0):.0f} | {v.get('step_s', 0):.3f} | "
                   f"{v.get('mfu', 0):.3f} | {v.get('peak_gpu_memory_mb', 0):.0f} | "
                   f"{v.get('local_attention', '')} | {v.get('qk_norm_rope', '')} | "
                   f"{v.get('pre_norm', '')} | {v.get('residual_add', '')} | "
                   f"{v.get('ff_relu', '')} |"
                   for k, v in rows.items()]
    for name, row in sorted(bench.items()):
        e = row.get("eval_bytes_per_s") or {}
        if e.get("bf16") and e.get("fp32"):
            md += ["", f"Evaluation's forward passes, {name}: bf16 {e['bf16']:.0f} bytes/s, "
                   f"fp32 {e['fp32']:.0f} ({e['bf16'] / e['fp32']:.1f}x)"]
    for name, row in sorted(summary.get("top_ops", {}).items()):
        md += ["", f"Largest {row['basis']} in one step of {name} "
               f"({row['total_ms']:.0f} ms in all):",
               "", "| ms | calls | kernel |", "|---|---|---|"]
        md += [f"| {op['ms']:.1f} | {op['calls']} | `{op['name'][:100]}` |" for op in row["ops"][:15]]
    if "precision" in summary:
        p = summary["precision"]
        md += ["", f"bf16 CUDA against fp32 CPU over {p['steps']} steps: max |loss diff| "
               f"{p['max_abs_loss_diff']:.4f}"]
    evals = [summary.get("tiny_cuda", {}).get(k) or {} for k in ("eval", "eval_fp32")]
    if all("bits_per_byte" in e for e in evals):
        md += ["", "tiny run's test split on CUDA: "
               + ", ".join(f"{e.get('precision', '?')} {e['bits_per_byte']:.5f} bits/byte"
                           for e in evals)]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
