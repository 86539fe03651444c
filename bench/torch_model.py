#!/usr/bin/env python3
"""Times PyTorch eager inference on a model bench/make_models.py built.

Rebuilds the architecture from the directory name (resnet18_*,
mobilenet_v2_* from torchvision; bert_* from tools/bert_like.py), loads
weights.pt, and prints one JSON line: {"p50_ms", "threads", "batch"}.
Threads: torch.set_num_threads(T); run with OMP_NUM_THREADS=T as well.

Usage: /usr/bin/python3 bench/torch_model.py MODEL_DIR --batch B --threads T
           [--seq L] [--time S]
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, HERE)
from timing import median_time  # noqa: E402


def build(directory):
    name = os.path.basename(os.path.normpath(directory))
    if name.startswith("bert_"):
        import bert_like
        return bert_like.BertLike(), "bert"
    import torchvision
    arch = name.rsplit("_", 1)[0]
    return getattr(torchvision.models, arch)(), "cnn"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--time", type=float, default=3.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, kind = build(args.model_dir)
    model.load_state_dict(torch.load(os.path.join(args.model_dir, "weights.pt")))
    model.eval()
    if kind == "bert":
        ids = torch.ones(args.batch, args.seq, dtype=torch.int64)
        inputs = (ids, torch.ones_like(ids))
    else:
        inputs = (torch.randn(args.batch, 3, 224, 224),)
    with torch.inference_mode():
        seconds = median_time(lambda: model(*inputs), min_seconds=args.time,
                              reps=7)
    print(json.dumps({"p50_ms": seconds * 1e3, "threads": args.threads,
                      "batch": args.batch}))


if __name__ == "__main__":
    main()
