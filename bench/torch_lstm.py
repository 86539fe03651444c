#!/usr/bin/python3
"""PyTorch 1.13 (Debian's python3-torch) nn.LSTM vs spruce on the shapes of
bench/lstm_bench.cc (input = hidden, sequence 50, batch 1 and 16), 1 thread,
in one script run: times torch first, then runs lstm_bench's spruce cases,
and prints the ratio table that bench/RESULTS.md quotes.

PyTorch runs the pruned weights dense (its LSTM has no sparse path), so its
time does not depend on the sparsity.

Usage: bench/torch_lstm.py [build dir]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

import torch

from timing import median_time

HIDDEN = [512, 1024]
BATCH = [1, 16]
SEQ = 50
SPARSITY = [70, 90, 95]


def main(build):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    torch_times = {}
    for hidden in HIDDEN:
        lstm = torch.nn.LSTM(hidden, hidden).eval()
        for batch in BATCH:
            x = torch.rand(SEQ, batch, hidden) * 2 - 1
            with torch.no_grad():
                torch_times[(hidden, batch)] = median_time(lambda: lstm(x), 1.0)
    pcts = "|".join(str(p) for p in SPARSITY)
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run(
            [os.path.join(build, "bench", "lstm_bench"),
             f"--benchmark_filter=^spruce/lstm[0-9]+/[0-9]+/({pcts})/real_time$",
             "--benchmark_repetitions=3", "--benchmark_min_time=0.1",
             "--benchmark_format=json", f"--benchmark_out={f.name}",
             "--benchmark_out_format=json"],
            check=True, stdout=subprocess.DEVNULL,
            env=dict(os.environ, OMP_NUM_THREADS="1"))
        data = json.load(open(f.name))
    spruce = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        spruce.setdefault(b["run_name"], []).append(b["real_time"] * 1e-3)
    print(f"torch {torch.__version__}, 1 thread, nn.LSTM, sequence {SEQ}\n")
    print("| hidden | batch | torch (ms) | " +
          " | ".join(f"spruce {p}% (ms) | torch / spruce {p}%" for p in SPARSITY) + " |")
    print("| --- | --- | --- | " + " | ".join("--- | ---" for _ in SPARSITY) + " |")
    for (hidden, batch), t in torch_times.items():
        cells = []
        for p in SPARSITY:
            ours = statistics.median(spruce[f"spruce/lstm{hidden}/{batch}/{p}/real_time"])
            cells.append(f"{ours * 1e3:.2f} | {t / ours:.1f}x")
        print(f"| {hidden} | {batch} | {t * 1e3:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build")
