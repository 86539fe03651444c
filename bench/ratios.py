#!/usr/bin/env python3
"""Turns spmm_bench's JSON (--benchmark_format=json, with repetitions) into a
Markdown table of median ratios: oneDNN dense time / spruce sparse time for
the same shape and N, measured in the same run.

Usage: bench/ratios.py results.json
"""
import json
import statistics
import sys
from collections import defaultdict


def main(path):
    with open(path) as f:
        data = json.load(f)
    times = defaultdict(list)
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        times[b["run_name"]].append(b["real_time"])
    med = {name: statistics.median(v) for name, v in times.items()}
    rows = defaultdict(dict)
    sparsities = set()
    for name, t in med.items():
        parts = name.split("/")
        if parts[0] != "csr":
            continue
        shape, n, pct = parts[1], int(parts[2]), int(parts[3])
        dense = med.get(f"dense/{shape}/{n}")
        if dense:
            rows[(shape, n)][pct] = dense / t
            sparsities.add(pct)
    cols = sorted(sparsities)
    print("| shape (out x in) | N | dense (us) | " +
          " | ".join(f"{c}%" for c in cols) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in cols) + " |")
    for (shape, n) in sorted(rows, key=lambda k: (k[0], k[1])):
        dense_us = med[f"dense/{shape}/{n}"] / 1000.0
        cells = " | ".join(f"{rows[(shape, n)].get(c, float('nan')):.2f}x" for c in cols)
        print(f"| {shape} | {n} | {dense_us:.1f} | {cells} |")


if __name__ == "__main__":
    main(sys.argv[1])
