#!/usr/bin/env python3
"""Small-batch latency: single Linears, MLP chains, LSTMs and GRUs at the batches
services use, through spruce, its dense path and ONNX Runtime, on the same
ONNX files, in one run.

Models (torch.onnx.export of Debian's PyTorch, opset 13, dynamic batch;
built into --models unless there already):
  linear_<in>x<out>_<pruning>   one nn.Linear; pruning 0 (dense), 90 or 95
                                (per-layer L1 unstructured), 90b4x1 / 90b8x1
                                (90% of 4x1 / 8x1 blocks of W[out, in])
  mlp_<pruning>                 1024 -> 2048 -> 1024 -> 512 with ReLU;
                                pruning 0, 90 (per layer) or 90g (global)
  lstm<H>_<pruning>             nn.LSTM(H, H), sequence 50; pruning 0 or 90
  gru<H>_<pruning>              nn.GRU(H, H), the same

Each (model, batch, threads) point runs, each in its own process with
OMP_NUM_THREADS=T: `spruce bench --compare-dense` (spruce as chosen at load,
and every layer on spruce's fastest dense kernel, phases alternating),
`spruce bench --kernels onednn` (every layer on oneDNN alone), and
bench/ort/ort_bench.js (ONNX Runtime 1.30, all graph optimizations). The
table gives medians (p50) and the ratios ONNX Runtime / spruce and
ONNX Runtime / spruce dense (above 1: spruce faster).

Usage (after tools/setup.sh --bench):
    /usr/bin/python3 bench/run_small_batch.py [--batches 1,2,4,8,16,32,128]
        [--threads 1,2] [--time 1] [--only REGEX] [--json out.json]
        [--results bench/RESULTS.md]
With --results, the tables replace what stands between the lines
<!-- run_small_batch --> and <!-- /run_small_batch --> in that file.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

from timing import converted_models, ort_p50_ms

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
OPSET = 13
SEQ = 50

LINEARS = [(1024, 2048, p) for p in ("0", "90", "95", "90b4x1", "90b8x1")] + \
          [(768, 3072, "90"), (3072, 768, "90"), (768, 3072, "0"),
           (3072, 768, "0")]
MLPS = ["0", "90", "90g"]
LSTMS = [(512, "0"), (512, "90"), (1024, "0"), (1024, "90")]
GRUS = LSTMS


def build_models(out):
    import torch
    import torch.nn as nn
    import torch.nn.utils.prune as prune

    def prune_layer(m, pruning):
        """Per-layer pruning of m.weight (and weight_hh/ih for an LSTM)."""
        names = [n for n, _ in m.named_parameters() if "weight" in n]
        for n in names:
            w = getattr(m, n).data
            if pruning.startswith("90b") or pruning.startswith("95b"):
                rows, cols = (int(v) for v in pruning[3:].split("x"))
                amount = int(pruning[:2]) / 100
                o, i = w.shape
                norms = w.abs().reshape(o // rows, rows, i // cols, cols).sum(
                    dim=(1, 3))
                k = int(amount * norms.numel())
                threshold = norms.flatten().kthvalue(k).values
                keep = (norms > threshold).float()
                w *= keep.repeat_interleave(rows, 0).repeat_interleave(cols, 1)
            elif pruning != "0":
                prune.l1_unstructured(m, n, amount=int(pruning) / 100)
                prune.remove(m, n)

    def export(model, x, name, dynamic, input_names=("input",)):
        directory = os.path.join(out, name)
        path = os.path.join(directory, "model.onnx")
        if os.path.exists(path):
            return
        os.makedirs(directory, exist_ok=True)
        model.eval()
        torch.onnx.export(model, x, path, input_names=list(input_names),
                          output_names=["output"], opset_version=OPSET,
                          dynamic_axes=dynamic)
        print(f"built {path}", file=sys.stderr)

    batch_axes = {"input": {0: "batch"}, "output": {0: "batch"}}
    for i, o, pruning in LINEARS:
        torch.manual_seed(0)
        m = nn.Linear(i, o)
        prune_layer(m, pruning)
        export(m, torch.randn(1, i), f"linear_{i}x{o}_{pruning}", batch_axes)
    for pruning in MLPS:
        torch.manual_seed(0)
        layers = [nn.Linear(1024, 2048), nn.ReLU(), nn.Linear(2048, 1024),
                  nn.ReLU(), nn.Linear(1024, 512)]
        model = nn.Sequential(*layers)
        linears = [m for m in layers if isinstance(m, nn.Linear)]
        if pruning == "90g":
            prune.global_unstructured([(m, "weight") for m in linears],
                                      pruning_method=prune.L1Unstructured,
                                      amount=0.9)
            for m in linears:
                prune.remove(m, "weight")
        else:
            for m in linears:
                prune_layer(m, pruning)
        export(model, torch.randn(1, 1024), f"mlp_{pruning}", batch_axes)

    class Recurrent(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer

        def forward(self, x):
            return self.layer(x)[0]

    for kind, layer, shapes in (("lstm", nn.LSTM, LSTMS),
                                ("gru", nn.GRU, GRUS)):
        for hidden, pruning in shapes:
            torch.manual_seed(0)
            model = Recurrent(layer(hidden, hidden))
            prune_layer(model.layer, pruning)
            export(model, torch.randn(SEQ, 1, hidden),
                   f"{kind}{hidden}_{pruning}",
                   {"input": {0: "seq", 1: "batch"},
                    "output": {0: "seq", 1: "batch"}})


def env_for(threads):
    return dict(os.environ, OMP_NUM_THREADS=str(threads))


def spruce_bench(spruce, model, shape, threads, seconds, extra):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [spruce, "bench", model, "--threads", str(threads), "--time",
               str(seconds), "--shape", f"input={shape}", "--json",
               f.name] + extra
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                       env=env_for(threads))
        return json.load(open(f.name))


def tables(results):
    """A summary (ONNX Runtime p50 / spruce p50 per model and N, one column
    per thread count), then every measurement."""
    threads = sorted({r["threads"] for r in results})
    batches = sorted({r["batch"] for r in results})
    models = sorted({r["model"] for r in results})
    at = {(r["model"], r["batch"], r["threads"]): r for r in results}
    lines = ["ONNX Runtime p50 / spruce p50 (above 1: spruce faster), "
             "per N and thread count:", "",
             "| model | threads | " + " | ".join(f"N={b}" for b in batches) +
             " |",
             "| --- | --- | " + " | ".join("---" for _ in batches) + " |"]
    for m in models:
        for t in threads:
            cells = []
            for b in batches:
                r = at.get((m, b, t))
                cells.append(f"{r['ort_ms'] / r['spruce_ms']:.2f}x" if r else "-")
            lines.append(f"| {m} | {t} | " + " | ".join(cells) + " |")
    lines += ["", "Every measurement (p50, ms):", "",
              "| model | N | threads | spruce | spruce dense | oneDNN | ORT "
              "| ORT / spruce | ORT / spruce dense | ORT / oneDNN |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['threads']} | "
            f"{r['spruce_ms']:.4f} | {r['spruce_dense_ms']:.4f} | "
            f"{r['onednn_ms']:.4f} | {r['ort_ms']:.4f} | "
            f"{r['ort_ms'] / r['spruce_ms']:.2f}x | "
            f"{r['ort_ms'] / r['spruce_dense_ms']:.2f}x | "
            f"{r['ort_ms'] / r['onednn_ms']:.2f}x |")
    return "\n".join(lines) + "\n"


def write_results(path, text):
    begin, end = "<!-- run_small_batch -->", "<!-- /run_small_batch -->"
    with open(path) as f:
        doc = f.read()
    if begin not in doc or end not in doc:
        raise SystemExit(f"{path}: no {begin} ... {end} section to replace")
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(head + begin + "\n" + text + end + tail)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models",
                        default=os.path.join(ROOT, "build", "small_models"))
    parser.add_argument("--spruce", default=os.path.join(ROOT, "build", "spruce"))
    parser.add_argument("--only", default="", help="regex over model names")
    parser.add_argument("--batches", default="1,2,4,8,16,32,128")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--time", type=float, default=1.0)
    parser.add_argument("--json", default="")
    parser.add_argument("--results", default="",
                        help="Markdown file whose marked section gets the tables")
    args = parser.parse_args()
    build_models(args.models)
    results = []
    for name, onnx_path, spruce_path in converted_models(
            args.models, args.spruce,
            lambda n: not args.only or re.search(args.only, n)):
        features = None
        recurrent = re.match(r"(lstm|gru)(\d+)_", name)
        if recurrent:
            features = int(recurrent.group(2))
        elif name.startswith("mlp"):
            features = 1024
        else:
            features = int(re.match(r"linear_(\d+)x", name).group(1))
        for batch in [int(b) for b in args.batches.split(",")]:
            shape = (f"{SEQ},{batch},{features}" if recurrent
                     else f"{batch},{features}")
            for threads in [int(t) for t in args.threads.split(",")]:
                r = spruce_bench(args.spruce, spruce_path, shape, threads,
                                 args.time, ["--compare-dense"])
                s = r["latency_ms"]["p50"]
                sd = r["dense"]["latency_ms"]["p50"]
                one = spruce_bench(args.spruce, spruce_path, shape, threads,
                                   args.time / 2,
                                   ["--kernels", "onednn"])["latency_ms"]["p50"]
                o = ort_p50_ms(onnx_path, batch, threads, args.time, SEQ)
                row = {"model": name, "batch": batch, "threads": threads,
                       "spruce_ms": s, "spruce_dense_ms": sd, "onednn_ms": one,
                       "ort_ms": o}
                results.append(row)
                print(f"{name} N={batch} t{threads}: spruce {s:.4f} ms, "
                      f"dense {sd:.4f}, oneDNN {one:.4f}, ORT {o:.4f} "
                      f"({o / s:.2f}x, dense {o / sd:.2f}x)",
                      file=sys.stderr, flush=True)
    text = tables(results)
    print(text)
    if args.results:
        write_results(args.results, text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
