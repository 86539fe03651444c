#!/usr/bin/env python3
"""Turns spmm_bench's JSON (--benchmark_format=json, with repetitions) into
Markdown tables of median ratios, each pair measured in the same run:
  1. oneDNN dense time / spruce CSR time, per shape, N and sparsity;
  2. oneDNN dense time / spruce BSR time at 90% block sparsity, per block;
  3. Eigen sparse time / spruce CSR time at 90%.

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
        if b.get("run_type") == "aggregate":
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
    cases = sorted({tuple(n.split("/")[1:3]) for n in med if n.startswith("dense/")},
                   key=lambda k: (shape_key(k)))
    ratio = lambda num, den: f"{num / den:.2f}x" if num and den else "-"

    pcts = sorted({int(n.split("/")[3]) for n in med if n.startswith("csr/")})
    rows = []
    for shape, n in cases:
        dense = med.get(f"dense/{shape}/{n}")
        rows.append([shape, n, f"{dense / 1000:.1f}"] +
                    [ratio(dense, med.get(f"csr/{shape}/{n}/{p}")) for p in pcts])
    print("CSR, unstructured (oneDNN dense time / spruce time):\n")
    table(["shape (out x in)", "N", "dense (us)"] + [f"{p}%" for p in pcts], rows)

    blocks = sorted({n.split("/")[0][3:] for n in med if n.startswith("bsr")})
    rows = []
    for shape, n in cases:
        dense = med.get(f"dense/{shape}/{n}")
        rows.append([shape, n] + [ratio(dense, med.get(f"bsr{b}/{shape}/{n}/90"))
                                  for b in blocks])
    print("BSR, 90% of blocks pruned (oneDNN dense time / spruce time):\n")
    table(["shape (out x in)", "N"] + blocks, rows)

    rows = []
    for shape, n in cases:
        rows.append([shape, n, ratio(med.get(f"eigen/{shape}/{n}/90"),
                                     med.get(f"csr/{shape}/{n}/90"))])
    print("CSR vs Eigen 3.4 SparseMatrix (row-major) × dense, 90% "
          "(Eigen time / spruce time):\n")
    table(["shape (out x in)", "N", "spruce vs Eigen"], rows)


if __name__ == "__main__":
    main(sys.argv[1])
