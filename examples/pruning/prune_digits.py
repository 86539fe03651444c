#!/usr/bin/env python3
"""The pruning workflow end to end, on a real dataset that ships with Debian.

Trains a small CNN and a small LSTM on scikit-learn's handwritten digits
(python3-sklearn: 1797 8x8 images, 10 classes), prunes each iteratively with
fine-tuning (torch.nn.utils.prune, global L1 magnitude: 50% -> 75% -> 90%,
then, from the dense model again, 90% in 4x1 blocks), and at every step:
exports ONNX, converts it with `spruce convert`, runs the test set through
`spruce run` and compares the predictions with PyTorch's, and measures file
sizes and `spruce bench` latency (batch 1, 1 thread) beside oneDNN dense
(--compare-dense). Writes a Markdown table and a plot of accuracy and latency
against sparsity (matplotlib) into --out.

    apt-get install python3-torch python3-onnx python3-sklearn python3-matplotlib
    /usr/bin/python3 examples/pruning/prune_digits.py [--spruce build/spruce]
        [--out build/pruning]
"""
import argparse
import json
import os
import subprocess

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.utils.prune as prune  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 2 * 2, 256), nn.ReLU(),
            nn.Linear(256, 10))

    def forward(self, x):  # x: [batch, 1, 8, 8]
        return self.classifier(self.features(x))


class Lstm(nn.Module):
    """Reads an image row by row: 8 steps of 8 pixels."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 128, batch_first=True)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):  # x: [batch, 8, 8]
        _, (h, _) = self.lstm(x)
        return self.fc(h.squeeze(0))


def prunable(model):
    params = []
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            params.append((m, "weight"))
        elif isinstance(m, nn.LSTM):
            params += [(m, "weight_ih_l0"), (m, "weight_hh_l0")]
    return params


def sparsity(model):
    params = prunable(model)
    zeros = sum(int((getattr(m, n) == 0).sum()) for m, n in params)
    return zeros / sum(getattr(m, n).numel() for m, n in params)


def train(model, x, y, epochs, lr=3e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()


def accuracy(logits, y):
    return float((logits.argmax(1) == y).float().mean())


def block_masks(model, amount, rows=4, cols=1):
    """4x1 blocks (4 output rows, 1 input column) with the smallest L1 norms
    across every prunable weight, removed; a conv weight [O, C, kh, kw] is
    taken as the [O, C*kh*kw] matrix spruce stores."""
    params = [(m, n) for m, n in prunable(model)
              if getattr(m, n).shape[0] % rows == 0]  # the 10-way head stays
    norms = []
    for m, n in params:
        w = getattr(m, n).detach()
        w2 = w.reshape(w.shape[0], -1).abs()
        o, i = w2.shape
        norms.append(w2.reshape(o // rows, rows, i // cols, cols).sum(dim=(1, 3)))
    flat = torch.cat([t.flatten() for t in norms])
    threshold = flat.kthvalue(int(amount * flat.numel())).values
    for (m, n), t in zip(params, norms):
        w = getattr(m, n)
        keep = (t > threshold).float()
        mask = keep.repeat_interleave(rows, 0).repeat_interleave(cols, 1)
        prune.custom_from_mask(m, n, mask.reshape(w.shape))


def finalize(model):
    for m, n in prunable(model):
        if prune.is_pruned(m) and hasattr(m, n + "_orig"):
            prune.remove(m, n)


def spruce_step(args, name, model, example, x_test, y_test, out_dir):
    """Export, convert, run the test set through spruce, bench."""
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    onnx_path = os.path.join(d, "model.onnx")
    spruce_path = os.path.join(d, "model.spruce")
    torch.onnx.export(model, example, onnx_path, input_names=["input"],
                      output_names=["logits"], opset_version=13,
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    subprocess.run([args.spruce, "convert", onnx_path, "-o", spruce_path],
                   check=True, stdout=subprocess.DEVNULL)
    np.save(os.path.join(d, "test.npy"), x_test.numpy())
    subprocess.run([args.spruce, "run", spruce_path, "--input",
                    "input=" + os.path.join(d, "test.npy"), "--output-dir", d],
                   check=True, stdout=subprocess.DEVNULL)
    spruce_logits = torch.from_numpy(np.load(os.path.join(d, "logits.npy")))
    with torch.no_grad():
        torch_logits = model(x_test)
    bench_json = os.path.join(d, "bench.json")
    subprocess.run([args.spruce, "bench", spruce_path, "--batch", "1",
                    "--threads", "1", "--time", str(args.bench_time),
                    "--compare-dense", "--json", bench_json],
                   check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, OMP_NUM_THREADS="1"))
    bench = json.load(open(bench_json))
    return {
        "model": name,
        "sparsity": sparsity(model),
        "torch_accuracy": accuracy(torch_logits, y_test),
        "spruce_accuracy": accuracy(spruce_logits, y_test),
        "identical_predictions": bool(
            (torch_logits.argmax(1) == spruce_logits.argmax(1)).all()),
        "max_abs_diff": float((torch_logits - spruce_logits).abs().max()),
        "onnx_bytes": os.path.getsize(onnx_path),
        "spruce_bytes": os.path.getsize(spruce_path),
        "latency_ms": bench["latency_ms"]["p50"],
        "dense_latency_ms": bench["dense"]["latency_ms"]["p50"],
    }


def workflow(args, kind, make, shape, x_train, y_train, x_test, y_test):
    torch.manual_seed(0)
    xt = x_train.reshape(shape(len(x_train)))
    xs = x_test.reshape(shape(len(x_test)))
    example = xs[:1]
    model = make()
    train(model, xt, y_train, epochs=args.epochs)
    dense_state = {k: v.clone() for k, v in model.state_dict().items()}
    rows = [spruce_step(args, f"{kind}_0", model, example, xs, y_test, args.out)]
    # Iterative global L1 pruning: each step prunes a fraction of the
    # survivors (reaching `target` of all weights), then fine-tunes with the
    # masks in place.
    previous = 0.0
    for target in (0.5, 0.75, 0.9):
        prune.global_unstructured(prunable(model),
                                  pruning_method=prune.L1Unstructured,
                                  amount=1 - (1 - target) / (1 - previous))
        previous = target
        train(model, xt, y_train, epochs=args.finetune_epochs, lr=1e-3)
        snapshot = _pruned_copy(model, make)
        rows.append(spruce_step(args, f"{kind}_{int(target * 100)}", snapshot,
                                example, xs, y_test, args.out))
    # 90% in 4x1 blocks, from the dense model.
    blocked = make()
    blocked.load_state_dict(dense_state)
    for amount in (0.5, 0.75, 0.9):
        finalize(blocked)
        block_masks(blocked, amount)
        train(blocked, xt, y_train, epochs=args.finetune_epochs, lr=1e-3)
    finalize(blocked)
    rows.append(spruce_step(args, f"{kind}_90_4x1", blocked, example, xs,
                            y_test, args.out))
    return rows


def _pruned_copy(model, make):
    """A plain (mask-free) copy of a model being pruned: weight = orig * mask."""
    copy = make()
    state = {}
    for k, v in model.state_dict().items():
        if k.endswith("_mask"):
            continue
        if k.endswith("_orig"):
            base = k[:-len("_orig")]
            state[base] = v * model.state_dict()[base + "_mask"]
        else:
            state[k] = v
    copy.load_state_dict(state)
    copy.eval()
    return copy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--spruce", default=os.path.join(here, "..", "..", "build", "spruce"))
    parser.add_argument("--out", default=os.path.join(here, "..", "..", "build", "pruning"))
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--finetune-epochs", type=int, default=5)
    parser.add_argument("--bench-time", type=float, default=1.0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)

    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y)

    rows = workflow(args, "cnn", Cnn, lambda n: (n, 1, 8, 8),
                    x_train, y_train, x_test, y_test)
    rows += workflow(args, "lstm", Lstm, lambda n: (n, 8, 8),
                     x_train, y_train, x_test, y_test)

    lines = ["| model | sparsity | PyTorch acc | spruce acc | identical predictions "
             "| ONNX size | .spruce size | spruce p50 ms | oneDNN dense p50 ms | speedup |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['sparsity']:.1%} | {r['torch_accuracy']:.4f} | "
            f"{r['spruce_accuracy']:.4f} | {'yes' if r['identical_predictions'] else 'NO'} | "
            f"{r['onnx_bytes'] / 1024:.1f} KiB | {r['spruce_bytes'] / 1024:.1f} KiB | "
            f"{r['latency_ms']:.4f} | {r['dense_latency_ms']:.4f} | "
            f"{r['dense_latency_ms'] / r['latency_ms']:.2f}x |")
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(rows, f, indent=2)

    fig, (acc_ax, lat_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for kind, marker in (("cnn", "o"), ("lstm", "s")):
        rs = [r for r in rows if r["model"].startswith(kind) and "4x1" not in r["model"]]
        bs = [r for r in rows if r["model"].startswith(kind) and "4x1" in r["model"]]
        s = [100 * r["sparsity"] for r in rs]
        acc_ax.plot(s, [r["spruce_accuracy"] for r in rs], marker=marker, label=f"{kind}")
        acc_ax.scatter([100 * r["sparsity"] for r in bs], [r["spruce_accuracy"] for r in bs],
                       marker="*", s=120, label=f"{kind} 4x1 blocks")
        lat_ax.plot(s, [r["latency_ms"] for r in rs], marker=marker, label=f"{kind} spruce")
        lat_ax.plot(s, [r["dense_latency_ms"] for r in rs], linestyle="--", marker=marker,
                    label=f"{kind} oneDNN dense")
        lat_ax.scatter([100 * r["sparsity"] for r in bs], [r["latency_ms"] for r in bs],
                       marker="*", s=120, label=f"{kind} 4x1 blocks")
    acc_ax.set(xlabel="sparsity (%)", ylabel="test accuracy (spruce)",
               title="Accuracy vs sparsity (digits)")
    lat_ax.set(xlabel="sparsity (%)", ylabel="latency p50 (ms, batch 1, 1 thread)",
               title="Latency vs sparsity")
    for ax in (acc_ax, lat_ax):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    plot = os.path.join(args.out, "pruning.png")
    fig.savefig(plot, dpi=110)
    print(f"wrote {plot} and {os.path.join(args.out, 'results.md')}")
    if not all(r["identical_predictions"] for r in rows):
        raise SystemExit("spruce and PyTorch predictions differ")


if __name__ == "__main__":
    main()
