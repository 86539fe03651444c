#!/usr/bin/env python3
"""Who leads the OpenMP teams: spruce's team leader vs the calling thread.

For each model, `spruce bench` runs with all cores per run in four ways:
from the thread that loaded the engine and from a new thread
(--worker-thread, as a service's request threads call), each with the team
leader (the default) and without it (--no-team-leader: the calling thread
leads its own team, as before the leader). Then 4 concurrent streams, with
and without. Each variant is its own process: a process holding both kinds
of team would be the very oversubscription measured. Variants alternate
over --rounds rounds; the table gives median p50 latencies (and median
throughput for the streams) and the ratio without / with the leader
(above 1: the leader is faster).

Usage (after tools/setup.sh; bench/make_models.py for the larger models):
    /usr/bin/python3 bench/run_threads.py [--build build] [--rounds 3]
        [--time 1.5] [--models build/models]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")

# (label, path relative to the root, extra bench arguments)
FIXTURES = [
    ("mlp_pruned90 b1", "tests/fixtures/mlp_pruned90/model.onnx", []),
    ("cnn_pruned90 b1", "tests/fixtures/cnn_pruned90/model.onnx", []),
    ("cnn_pruned90 b16", "tests/fixtures/cnn_pruned90/model.onnx",
     ["--batch", "16"]),
    ("lstm_pruned90 b16", "tests/fixtures/lstm_pruned90/model.onnx",
     ["--batch", "16"]),
]
MODELS = [
    ("bert_90 b1 s1", "bert_90", []),
    ("bert_90 b1 s128", "bert_90",
     ["--shape", "input_ids=1,128", "--shape", "attention_mask=1,128"]),
    ("mobilenet_v2_90 b1", "mobilenet_v2_90", []),
    ("mobilenet_v2_0 b1", "mobilenet_v2_0", []),
    ("resnet18_90 b1", "resnet18_90", []),
]


def bench(spruce, path, extra, flags, seconds):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([spruce, "bench", path, "--time", str(seconds),
                        "--json", out.name] + extra + flags,
                       check=True, stdout=subprocess.DEVNULL)
        with open(out.name) as f:
            result = json.load(f)
    return result["latency_ms"]["p50"], result["throughput"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--models", default=os.path.join(ROOT, "build",
                                                         "models"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--time", type=float, default=1.5)
    args = parser.parse_args()
    spruce = os.path.join(args.build, "spruce")
    cases = [(label, os.path.join(ROOT, path), extra)
             for label, path, extra in FIXTURES]
    for label, name, extra in MODELS:
        path = os.path.join(args.models, name, "model.spruce")
        if os.path.exists(path):
            cases.append((label, path, extra))
    variants = {
        "loading": [],
        "loading, no leader": ["--no-team-leader"],
        "worker": ["--worker-thread"],
        "worker, no leader": ["--worker-thread", "--no-team-leader"],
        "4 streams": ["--streams", "4"],
        "4 streams, no leader": ["--streams", "4", "--no-team-leader"],
    }
    print(f"{os.cpu_count()} cores, all per run; p50 ms (streams: items/s); "
          "ratio = without leader / with (streams: with / without)\n")
    print("| model | loading thread: no leader | leader | ratio "
          "| worker thread: no leader | leader | ratio "
          "| 4 streams: no leader | leader | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, path, extra in cases:
        p50 = {v: [] for v in variants}
        tput = {v: [] for v in variants}
        for _ in range(args.rounds):
            for v, flags in variants.items():
                latency, throughput = bench(spruce, path, extra, flags,
                                            args.time)
                p50[v].append(latency)
                tput[v].append(throughput)
        med = {v: statistics.median(p50[v]) for v in variants}
        thr = {v: statistics.median(tput[v]) for v in variants}
        row = [label]
        for caller in ("loading", "worker"):
            row += [f"{med[caller + ', no leader']:.4g}", f"{med[caller]:.4g}",
                    f"{med[caller + ', no leader'] / med[caller]:.2f}x"]
        row += [f"{thr['4 streams, no leader']:.0f}", f"{thr['4 streams']:.0f}",
                f"{thr['4 streams'] / thr['4 streams, no leader']:.2f}x"]
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
