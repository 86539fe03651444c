#!/usr/bin/python3
"""PyTorch 1.13 (Debian's python3-torch) nn.LSTM vs spruce on the shapes of
bench/recurrent_bench.cc (input = hidden, sequence 50, batch 1 and 16), 1 thread,
in one script run: times torch first, then runs recurrent_bench's spruce cases,
and prints the ratio table that bench/RESULTS.md quotes.

PyTorch runs the pruned weights dense (its LSTM has no sparse path), so its
time does not depend on the sparsity.

Usage: bench/torch_lstm.py [build dir]
"""
import os
import sys

import torch

from timing import benchmark_medians, median_time

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
    spruce = benchmark_medians(os.path.join(build, "bench", "recurrent_bench"),
                               f"^spruce/lstm[0-9]+/[0-9]+/({pcts})/real_time$", 0.1, 1e-3)
    print(f"torch {torch.__version__}, 1 thread, nn.LSTM, sequence {SEQ}\n")
    print("| hidden | batch | torch (ms) | " +
          " | ".join(f"spruce {p}% (ms) | torch / spruce {p}%" for p in SPARSITY) + " |")
    print("| --- | --- | --- | " + " | ".join("--- | ---" for _ in SPARSITY) + " |")
    for (hidden, batch), t in torch_times.items():
        cells = []
        for p in SPARSITY:
            ours = spruce[f"spruce/lstm{hidden}/{batch}/{p}/real_time"]
            cells.append(f"{ours * 1e3:.2f} | {t / ours:.1f}x")
        print(f"| {hidden} | {batch} | {t * 1e3:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build")
