#!/usr/bin/env python3
"""Builds the small pruned models that spruce's tests and demo use.

Uses Debian's python3-torch and python3-onnx (run with /usr/bin/python3).
Each fixture is a directory in the layout of the ONNX backend test data:

    tests/fixtures/<name>/model.onnx
    tests/fixtures/<name>/test_data_set_0/input_0.pb, output_0.pb  (TensorProto)
    tests/fixtures/<name>/input_0.npy, output_0.npy                (NumPy)

Fixtures:
  mlp_pruned90         Flatten + 3 Linear + ReLU, global L1 magnitude pruning
                       to 90%, prune.remove() called, exported as Gemm.
  mlp_pruned90_masked  the same pruned model exported *before* prune.remove():
                       the graph computes weight = weight_orig * weight_mask.
  mlp_matmul           Linear on [batch, tokens, features] inputs, exported as
                       MatMul + Add, pruned 80%.

Usage: /usr/bin/python3 tools/make_fixtures.py [--out tests/fixtures]
"""
import argparse
import os

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

OPSET = 13


def mlp():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(128, 256), nn.ReLU(),
        nn.Linear(256, 256), nn.ReLU(),
        nn.Linear(256, 10))


def prune_globally(model, amount):
    params = [(m, "weight") for m in model.modules() if isinstance(m, nn.Linear)]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured,
                              amount=amount)
    return params


def save(out_dir, name, model, x, constant_folding=True):
    d = os.path.join(out_dir, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    model.eval()
    with torch.no_grad():
        y = model(x)
    dynamic = {"input": {0: "batch"}, "output": {0: "batch"}}
    torch.onnx.export(model, x, os.path.join(d, "model.onnx"),
                      input_names=["input"], output_names=["output"],
                      dynamic_axes=dynamic, opset_version=OPSET,
                      do_constant_folding=constant_folding)
    for kind, t in (("input", x), ("output", y)):
        a = t.detach().numpy().astype(np.float32)
        np.save(os.path.join(d, f"{kind}_0.npy"), a)
        proto = onnx.numpy_helper.from_array(a, name=kind)
        with open(os.path.join(d, "test_data_set_0", f"{kind}_0.pb"), "wb") as f:
            f.write(proto.SerializeToString())
    onnx.checker.check_model(onnx.load(os.path.join(d, "model.onnx")))
    print(f"{name}: {os.path.getsize(os.path.join(d, 'model.onnx'))} bytes")


def sparsity(model):
    zeros = total = 0
    for m in model.modules():
        if isinstance(m, nn.Linear):
            zeros += int((m.weight == 0).sum())
            total += m.weight.numel()
    return zeros / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
    args = parser.parse_args()
    torch.manual_seed(0)

    model = mlp()
    params = prune_globally(model, 0.9)
    x = torch.randn(4, 8, 16)
    print(f"mlp sparsity {sparsity(model):.3f}")
    # Before prune.remove: weight_orig and weight_mask are in the graph.
    save(args.out, "mlp_pruned90_masked", model, x, constant_folding=False)
    for module, name in params:
        prune.remove(module, name)
    save(args.out, "mlp_pruned90", model, x)

    small = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 16))
    prune_globally(small, 0.8)
    for m in small.modules():
        if isinstance(m, nn.Linear):
            prune.remove(m, "weight")
    save(args.out, "mlp_matmul", small, torch.randn(2, 5, 32))


if __name__ == "__main__":
    main()
