#!/usr/bin/env python3
"""Which pruning pays: global, per-layer and block pruning of one CNN, with
the speed each gives in spruce.

torchvision's resnet18 (random weights with non-trivial BatchNorm
statistics: sparsity, not accuracy, sets the speed; no model hub is
reachable), 224x224, pruned four ways (tools/pruning.py, on
torch.nn.utils.prune) and exported to ONNX:
  dense          no pruning
  global         90% by global L1 magnitude over every Conv and Linear
                 (prune.global_unstructured): the early layers, whose
                 weights are larger, keep far more than 10%
  per-layer      each Conv and Linear pruned to 90% on its own
                 (prune.l1_unstructured)
  per-layer-4x1  each pruned to 90% of its blocks of 4 output channels x 1
                 input, which spruce runs on its BSR kernels
Each is converted with `spruce convert`, timed with `spruce bench` (batch 1,
1 thread, p50) and inspected: the table gives the latency, the speedup over
the dense model, how many layers run sparse, and `spruce inspect`'s
warning about pruned layers that run dense.

    /usr/bin/python3 examples/pruning/prune_resnet.py [--spruce build/spruce]
        [--out build/pruning_resnet] [--time 3]
"""
import argparse
import json
import os
import subprocess

import sys

import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tools"))
from pruning import (prune_blocks_per_layer, prune_global,  # noqa: E402
                     prune_per_layer, randomize_batchnorm)


def sparsity(model):
    weights = [m.weight for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    return sum(int((w == 0).sum()) for w in weights) / sum(
        w.numel() for w in weights)


def build(kind):
    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    randomize_batchnorm(model)
    prune = {"global": prune_global, "per-layer": prune_per_layer,
             "per-layer-4x1": prune_blocks_per_layer}.get(kind)
    if prune is not None:
        prune(model, 0.9)
    return model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--spruce", default=os.path.join(here, "..", "..",
                                                         "build", "spruce"))
    parser.add_argument("--out", default="build/pruning_resnet")
    parser.add_argument("--time", type=float, default=3.0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    x = torch.randn(1, 3, 224, 224)
    rows = []
    for kind in ("dense", "global", "per-layer", "per-layer-4x1"):
        model = build(kind)
        onnx_path = os.path.join(args.out, f"{kind}.onnx")
        spruce_path = os.path.join(args.out, f"{kind}.spruce")
        torch.onnx.export(model, x, onnx_path, input_names=["input"],
                          output_names=["output"], opset_version=13)
        subprocess.run([args.spruce, "convert", onnx_path, "-o", spruce_path],
                       check=True, stdout=subprocess.DEVNULL)
        bench_json = os.path.join(args.out, f"{kind}.json")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        subprocess.run([args.spruce, "bench", spruce_path, "--threads", "1",
                        "--time", str(args.time), "--json", bench_json],
                       check=True, stdout=subprocess.DEVNULL, env=env)
        p50 = json.load(open(bench_json))["latency_ms"]["p50"]
        inspect = json.loads(subprocess.run(
            [args.spruce, "inspect", "--json", "--threads", "1", spruce_path],
            check=True, capture_output=True, text=True, env=env).stdout)
        weighted = [l for l in inspect["layers"] if l["weight_shape"]]
        sparse = sum(1 for l in weighted
                     if any("sparse" in k["kernel"] for k in l["kernels"][:1]))
        rows.append((kind, sparsity(model), p50, sparse, len(weighted),
                     " ".join(inspect.get("warnings", [])) or "-"))
        print(f"{kind}: {p50:.2f} ms", flush=True)
    dense_ms = rows[0][2]
    print("\n| pruning | zeros | p50 ms | vs dense | layers sparse | "
          "inspect warns |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind, s, p50, sparse, total, warning in rows:
        print(f"| {kind} | {100 * s:.0f}% | {p50:.2f} | {dense_ms / p50:.2f}x "
              f"| {sparse} of {total} | {warning[:90]}{'...' if len(warning) > 90 else ''} |")


if __name__ == "__main__":
    main()
