#!/usr/bin/env python3
"""Turns spmm_bench's JSON (--benchmark_format=json, with repetitions) into
Markdown tables of median ratios, every pair measured in the same run:
  1. the fastest dense kernel (oneDNN with packed weights, or spruce's
     dense-packed) per shape and N, and which one it is;
  2. fastest dense time / each sparse kernel's time, unstructured, per
     sparsity (sparse-lookup only for N <= 8);
  3. fastest dense time / sparse-bsr time at 90% block sparsity, per block.

Usage: bench/ratios.py results.json
"""
import json
import statistics
import sys
from collections import defaultdict


def medians(path):
    with open(path) as f:
        data = json.load(f)
    times = defaultdict(list)
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" or b.get("error_occurred"):
            continue
        times[b["run_name"]].append(b["real_time"])
    return {name: statistics.median(v) for name, v in times.items()}


def table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()


def shape_key(key):
    out, inn = key[0].split("x")
    return (int(out), int(inn), int(key[1]))


def main(path):
    med = medians(path)
    cases = sorted({tuple(n.split("/")[1:3]) for n in med
                    if n.startswith("onednn/")}, key=shape_key)
    ratio = lambda num, den: f"{num / den:.2f}x" if num and den else "-"

    def best_dense(shape, n):
        found = [(med[k], k.split("/")[0]) for k in
                 (f"onednn/{shape}/{n}", f"dense-packed/{shape}/{n}")
                 if k in med]
        return min(found) if found else (None, "-")

    pcts = sorted({int(n.split("/")[3]) for n in med
                   if n.startswith("sparse-csr/")})
    rows = []
    for shape, n in cases:
        dense, which = best_dense(shape, n)
        one = med.get(f"onednn/{shape}/{n}")
        rows.append([shape, n, which, f"{dense / 1000:.1f}",
                     ratio(one, dense)] +
                    [ratio(dense, med.get(f"{k}/{shape}/{n}/{p}"))
                     for p in pcts for k in ("sparse-lookup", "sparse-csr")])
    print("Unstructured (fastest dense time / sparse time; oneDNN / fastest "
          "dense shows what spruce's dense-packed adds):\n")
    table(["shape (out x in)", "N", "fastest dense", "dense (us)",
           "oneDNN / it"] +
          [f"{p}% {k}" for p in pcts for k in ("lookup", "csr")], rows)

    blocks = sorted({n.split("/")[0][len("sparse-bsr"):] for n in med
                     if n.startswith("sparse-bsr")})
    rows = []
    for shape, n in cases:
        dense, _ = best_dense(shape, n)
        rows.append([shape, n] +
                    [ratio(dense, med.get(f"sparse-bsr{b}/{shape}/{n}/90"))
                     for b in blocks])
    print("BSR, 90% of blocks pruned (fastest dense time / sparse-bsr "
          "time):\n")
    table(["shape (out x in)", "N"] + blocks, rows)


if __name__ == "__main__":
    main(sys.argv[1])
