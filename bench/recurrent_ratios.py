#!/usr/bin/env python3
"""Turns recurrent_bench's JSON (with repetitions) into the Markdown table
of median ratios fastest dense time / spruce time, per cell (LSTM, GRU),
hidden size, batch and sparsity (the fastest dense: oneDNN's primitive for
the cell, or spruce's dense path with force_dense), with the kernel the
engine chose for each.

Usage: bench/recurrent_ratios.py results.json
"""
import json
import re
import statistics
import sys
from collections import defaultdict


def main(path):
    with open(path) as f:
        data = json.load(f)
    times, labels = defaultdict(list), {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        times[b["run_name"]].append(b["real_time"])
        if b.get("label"):
            labels[b["run_name"]] = b["label"]
    med = {name: statistics.median(v) for name, v in times.items()}
    # "onednn/<cell><hidden>/<batch>"
    cases = sorted({(m.group(1), int(m.group(2)), int(n.split("/")[2]))
                    for n in med if n.startswith("onednn/")
                    for m in [re.match(r"([a-z]+)(\d+)", n.split("/")[1])]})
    pcts = sorted({int(n.split("/")[3]) for n in med if n.startswith("spruce/")})
    print("| cell | hidden | batch | oneDNN (ms) | spruce dense (ms) | " +
          " | ".join(f"{p}%" for p in pcts) + " |")
    print("| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in pcts) + " |")
    for cell, hidden, batch in cases:
        shape = f"{cell}{hidden}/{batch}"
        onednn = med[f"onednn/{shape}/real_time"]
        ours_dense = med.get(f"dense/{shape}/real_time", onednn)
        dense = min(onednn, ours_dense)
        cells = []
        for p in pcts:
            ours = med.get(f"spruce/{shape}/{p}/real_time")
            cells.append(f"{dense / ours:.2f}x" if ours else "-")
        print(f"| {cell.upper()} | {hidden} | {batch} | {onednn:.2f} | "
              f"{ours_dense:.2f} | " + " | ".join(cells) + " |")
    print("\nKernels chosen at load:\n")
    for name in sorted(labels):
        print(f"- `{name.replace('/real_time', '')}`: {labels[name]}")


if __name__ == "__main__":
    main(sys.argv[1])
