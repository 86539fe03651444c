#!/usr/bin/env python3
"""Builds the large models the model benchmarks run (not committed).

torchvision resnet18 and mobilenet_v2 (random initialisation: no model hub
is reachable, and sparsity, not accuracy, sets the speed), each exported
dense and pruned to 90% with global L1 magnitude pruning over every Conv and
Linear weight (torch.nn.utils.prune.global_unstructured, then prune.remove);
with --per-layer, any torchvision model also pruned to 90% per layer
(<model>_90l: each non-depthwise Conv and each Linear on its own), and with
--blocks per layer in 4x1 blocks (<model>_90b4; tools/pruning.py),
as ONNX opset 13 with a dynamic batch, beside a reference input and output
(test_data_set_0, as ONNX's backend tests lay them out), and the PyTorch
weights (weights.pt, a state dict) that bench/torch_model.py times eager.

Uses Debian's python3-torch and python3-torchvision:
    /usr/bin/python3 bench/make_models.py [--out build/models]
Writes <out>/<model>_<sparsity>/model.onnx, e.g. resnet18_90/model.onnx.
"""
import argparse
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
import bert_like  # noqa: E402
from pruning import (prune_blocks_per_layer, prune_global,  # noqa: E402
                     prune_per_layer, randomize_batchnorm)

OPSET = 13


def export(model, x, directory):
    os.makedirs(os.path.join(directory, "test_data_set_0"), exist_ok=True)
    model.eval()
    with torch.no_grad():
        y = model(x)
    path = os.path.join(directory, "model.onnx")
    torch.onnx.export(model, x, path, input_names=["input"],
                      output_names=["output"], opset_version=OPSET,
                      dynamic_axes={"input": {0: "batch"},
                                    "output": {0: "batch"}})
    torch.save(model.state_dict(), os.path.join(directory, "weights.pt"))
    for kind, t in (("input", x), ("output", y)):
        a = t.numpy().astype(np.float32)
        np.save(os.path.join(directory, f"{kind}_0.npy"), a)
        with open(os.path.join(directory, "test_data_set_0",
                               f"{kind}_0.pb"), "wb") as f:
            f.write(onnx.numpy_helper.from_array(a, kind).SerializeToString())


def make_bert(out):
    """The 4-layer BERT-like encoder (hidden 768, 12 heads, FFN 3072) at
    sequence 128: dense, 90% global L1 unstructured, and 80% in 4x1 blocks
    (global L1 over the blocks' norms)."""
    ids, mask = bert_like.example_inputs(1, 128, 8192)
    for variant in ("0", "90", "80_4x1"):
        torch.manual_seed(0)
        model = bert_like.BertLike().eval()
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if variant == "90":
            achieved = prune_global(model, 0.9)
        elif variant == "80_4x1":
            achieved = prune_blocks(linears, 0.8, 4, 1)
        else:
            achieved = 0.0
        directory = os.path.join(out, f"bert_{variant}")
        os.makedirs(os.path.join(directory, "test_data_set_0"), exist_ok=True)
        with torch.no_grad():
            y = model(ids, mask)
        bert_like.export(model, (ids, mask),
                         os.path.join(directory, "model.onnx"), OPSET)
        torch.save(model.state_dict(), os.path.join(directory, "weights.pt"))
        for k, (name, t) in enumerate((("input_ids", ids),
                                       ("attention_mask", mask))):
            np.save(os.path.join(directory, f"{name}.npy"), t.numpy())
            with open(os.path.join(directory, "test_data_set_0",
                                   f"input_{k}.pb"), "wb") as f:
                f.write(onnx.numpy_helper.from_array(t.numpy(), name)
                        .SerializeToString())
        np.save(os.path.join(directory, "output_0.npy"), y.numpy())
        with open(os.path.join(directory, "test_data_set_0", "output_0.pb"),
                  "wb") as f:
            f.write(onnx.numpy_helper.from_array(y.numpy(), "output")
                    .SerializeToString())
        print(f"{directory}: sparsity {achieved:.3f}")


def prune_blocks(linears, amount, rows, cols):
    """Global L1 pruning of rows x cols blocks of every Linear weight."""
    norms = []
    for m in linears:
        w = m.weight.data
        o, i = w.shape
        norms.append(w.abs().reshape(o // rows, rows, i // cols, cols)
                     .sum(dim=(1, 3)))
    threshold = torch.cat([n.flatten() for n in norms]).kthvalue(
        int(amount * sum(n.numel() for n in norms))).values
    zeros = total = 0
    for m, n in zip(linears, norms):
        keep = (n > threshold).float()
        mask = keep.repeat_interleave(rows, 0).repeat_interleave(cols, 1)
        m.weight.data *= mask
        zeros += int((m.weight.data == 0).sum())
        total += m.weight.numel()
    return zeros / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/models")
    parser.add_argument("--models", default="resnet18,mobilenet_v2,bert")
    parser.add_argument("--per-layer", default="",
                        help="comma-separated torchvision models to build "
                             "dense and 90%% pruned per layer (<name>_90l), "
                             "e.g. resnet18,resnet34,resnet50,mobilenet_v2,"
                             "mobilenet_v3_large,efficientnet_b0")
    parser.add_argument("--blocks", default="",
                        help="comma-separated torchvision models to build "
                             "dense and 90%% pruned per layer in 4x1 blocks "
                             "(<name>_90b4)")
    args = parser.parse_args()
    if "bert" in args.models.split(","):
        make_bert(args.out)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    # (model, sparsity, suffix): "" global pruning, "l" per layer, "b4" per
    # layer in 4x1 blocks (tools/pruning.py).
    runs = [(m, s, "") for m in args.models.split(",") if m and m != "bert"
            for s in (0, 90)]
    for option, suffix in ((args.per_layer, "l"), (args.blocks, "b4")):
        runs += [(m, s, suffix if s else "") for m in option.split(",") if m
                 for s in (0, 90)]
    pruning = {"": prune_global, "l": prune_per_layer,
               "b4": prune_blocks_per_layer}
    for name, sparsity, kind in dict.fromkeys(runs):
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)()
        randomize_batchnorm(model)
        achieved = pruning[kind](model, sparsity / 100) if sparsity else 0
        directory = os.path.join(args.out, f"{name}_{sparsity}{kind}")
        export(model, x, directory)
        print(f"{directory}: sparsity {achieved:.3f}, "
              f"{os.path.getsize(os.path.join(directory, 'model.onnx'))} "
              "bytes")


if __name__ == "__main__":
    main()
