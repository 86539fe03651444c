#!/usr/bin/env python3
"""Whole-model latency: spruce vs ONNX Runtime vs PyTorch eager, on the same
ONNX files, in the same run, at each batch size and thread count.

For every model bench/make_models.py built, each (batch, threads) point runs
the three back to back, each as its own process started with
OMP_NUM_THREADS=T (and ONNX Runtime with intraOpNumThreads=T): spruce
`bench` on the converted .spruce file, bench/ort/ort_bench.js
(onnxruntime-node) on model.onnx, and bench/torch_model.py. Each reports a
median latency over --time seconds; the table gives those medians and the
ratios ONNX Runtime / spruce and PyTorch / spruce (above 1: spruce faster).
BERT-like models run at sequence length 128.

Usage (after tools/setup.sh and bench/make_models.py):
    (cd bench/ort && npm install --ignore-scripts)
    /usr/bin/python3 bench/run_models.py [--models build/models]
        [--batches 1,16] [--threads 1,2] [--time 3] [--json out.json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from timing import converted_models, ort_p50_ms

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")


def run_json(cmd, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def spruce_ms(spruce, model, batch, threads, seconds, seq):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [spruce, "bench", model, "--threads", str(threads),
               "--time", str(seconds), "--json", f.name]
        if os.path.basename(os.path.dirname(model)).startswith("bert_"):
            for name in ("input_ids", "attention_mask"):
                cmd += ["--shape", f"{name}={batch},{seq}"]
        else:
            cmd += ["--batch", str(batch)]
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
        return json.load(open(f.name))["latency_ms"]["p50"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=os.path.join(ROOT, "build", "models"))
    parser.add_argument("--spruce", default=os.path.join(ROOT, "build", "spruce"))
    parser.add_argument("--only", default="", help="comma-separated model names")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--time", type=float, default=3.0)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    results = []
    for name, onnx_path, spruce_path in converted_models(
            args.models, args.spruce,
            lambda n: not args.only or n in args.only.split(",")):
        for batch in [int(b) for b in args.batches.split(",")]:
            for threads in [int(t) for t in args.threads.split(",")]:
                s = spruce_ms(args.spruce, spruce_path, batch, threads,
                              args.time, args.seq)
                o = ort_p50_ms(onnx_path, batch, threads, args.time, args.seq)
                t = run_json([sys.executable, os.path.join(HERE, "torch_model.py"),
                              os.path.dirname(onnx_path), "--batch", str(batch),
                              "--threads", str(threads),
                              "--time", str(args.time), "--seq", str(args.seq)],
                             threads)["p50_ms"]
                row = {"model": name, "batch": batch, "threads": threads,
                       "spruce_ms": s, "ort_ms": o, "torch_ms": t,
                       "ort_over_spruce": o / s, "torch_over_spruce": t / s}
                results.append(row)
                print(f"{name} b{batch} t{threads}: spruce {s:.2f} ms, "
                      f"ORT {o:.2f} ms ({o / s:.2f}x), "
                      f"PyTorch {t:.2f} ms ({t / s:.2f}x)",
                      file=sys.stderr, flush=True)
    print("| model | batch | threads | spruce ms | ORT ms | PyTorch ms "
          "| ORT / spruce | PyTorch / spruce |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['model']} | {r['batch']} | {r['threads']} | "
              f"{r['spruce_ms']:.2f} | {r['ort_ms']:.2f} | {r['torch_ms']:.2f} | "
              f"{r['ort_over_spruce']:.2f}x | {r['torch_over_spruce']:.2f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
