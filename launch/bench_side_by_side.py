#!/usr/bin/env python3
"""Times `spacebyte bench` and the eager PyTorch baseline (pytorch_baseline.py)
on the same configs, interleaved, in one run, and prints a markdown table.

Run through launch/bench_side_by_side.sh, which installs python3-torch and
builds the binary. Each round runs every (config, implementation) once, so a
change in machine load shows up in both columns of the round; the summary
takes each column's median. The baseline runs twice per round: as a user
runs it (OpenMP's and OpenBLAS's default spin-waiting) and with
OMP_WAIT_POLICY=PASSIVE and OPENBLAS_THREAD_TIMEOUT=4, which `spacebyte` sets
for itself, so the ratio is reported both ways.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = ["spacebyte_tiny.pt", "spacebyte_tiny_rope.pt"]


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def ours(args, config, steps, ranks=1):
    cmd = [args.spacebyte, "bench", "--config", config, "--steps", str(steps), "--warmup", "2",
           "--set", f"train.threads={args.threads // ranks}"]
    if ranks > 1:
        cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(ranks), *cmd]
    return run_json(cmd)


def baseline(args, config, steps, passive):
    env = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"} if passive else {}
    cmd = [sys.executable, os.path.join(HERE, "pytorch_baseline.py"), "--config", config,
           "--steps", str(steps), "--warmup", "2", "--threads", str(args.threads)]
    return run_json(cmd, env)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spacebyte", default="build/bin/spacebyte")
    parser.add_argument("--golden", default=os.path.join(HERE, "..", "..", "shared", "golden"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="cores to use")
    parser.add_argument("--ranks", type=int, default=2,
                        help="also run spacebyte as this many data-parallel ranks of "
                             "threads/ranks threads each (0: don't)")
    parser.add_argument("configs", nargs="*", default=[
        "launch/configs/bench_d384.textproto:3", "launch/configs/bench_d256.textproto:15"],
        help="CONFIG:STEPS pairs")
    args = parser.parse_args()

    golden = [os.path.join(args.golden, g) for g in GOLDEN]
    subprocess.run([sys.executable, os.path.join(HERE, "pytorch_baseline.py"), "--check",
                    *golden], check=True)

    rows = {}
    for r in range(args.rounds):
        for item in args.configs:
            config, steps = item.rsplit(":", 1)
            ran = {"spacebyte 1 rank": ours(args, config, int(steps))}
            if args.ranks > 1:
                ran[f"spacebyte {args.ranks} ranks (dp)"] = ours(args, config, int(steps),
                                                                 args.ranks)
            ran["baseline"] = baseline(args, config, int(steps), passive=False)
            ran["baseline, passive waiting"] = baseline(args, config, int(steps), passive=True)
            print(f"round {r + 1} {config}: " + json.dumps(
                {k: round(v["bytes_per_s"]) for k, v in ran.items()}), file=sys.stderr)
            rows.setdefault(config, []).append(ran)
    print_table(rows, args.threads)


def print_table(rows, threads):
    """One row per (config, implementation): median bytes/s over the rounds."""
    print(f"| config | run ({threads} cores) | bytes/s median (min–max) | × baseline "
          "| × baseline, passive waiting | MFU | matmul peak GFLOP/s |")
    print("|---|---|---|---|---|---|---|")
    for config, runs in rows.items():
        peak = statistics.median(run["spacebyte 1 rank"]["matmul_peak_gflops"] for run in runs)
        flops = runs[0]["spacebyte 1 rank"]["model_flops_per_byte"]
        speeds = {k: [run[k]["bytes_per_s"] for run in runs] for k in runs[0]}
        med = {k: statistics.median(v) for k, v in speeds.items()}
        for name, values in speeds.items():
            print(f"| {os.path.basename(config)} | {name} | {med[name]:,.0f} "
                  f"({min(values):,.0f}–{max(values):,.0f}) "
                  f"| {med[name] / med['baseline']:.2f}× "
                  f"| {med[name] / med['baseline, passive waiting']:.2f}× "
                  f"| {med[name] * flops / 1e9 / peak:.1%} | {peak:.0f} |")


if __name__ == "__main__":
    main()
