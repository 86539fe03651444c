#!/usr/bin/python3
"""PyTorch 1.13 (Debian's python3-torch) torch.sparse_csr matmul vs spruce's
fastest sparse kernel (sparse-lookup or sparse-csr, through the Linear op,
layout conversions included) on the same shapes and sparsity, 1 thread, in
one script run: times torch first, then runs spmm_bench for the same cases,
and prints the ratio table that bench/RESULTS.md quotes.

Usage: bench/torch_spmm.py [build dir]
"""
import os
import sys

import torch

from timing import benchmark_medians, median_time

SHAPES = [(768, 768), (3072, 768), (768, 3072), (2048, 1024), (4096, 1024)]
COLUMNS = [1, 16, 128]
SPARSITY = 0.9


def magnitude_pruned(out, inp, sparsity, gen):
    w = torch.randn(out, inp, generator=gen)
    k = int(sparsity * w.numel())
    threshold = w.abs().flatten().kthvalue(k).values
    return torch.where(w.abs() <= threshold, torch.zeros_like(w), w)


def main(build):
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(42)
    torch_times = {}
    for out, inp in SHAPES:
        w = magnitude_pruned(out, inp, SPARSITY, gen)
        w_csr = w.to_sparse_csr()
        for n in COLUMNS:
            x = torch.rand(inp, n, generator=gen) * 2 - 1
            with torch.no_grad():
                torch_times[(out, inp, n)] = (
                    median_time(lambda: torch.mm(w, x)),
                    median_time(lambda: torch.matmul(w_csr, x)),
                )
    names = "|".join(f"{o}x{i}" for o, i in SHAPES)
    spruce = benchmark_medians(os.path.join(build, "bench", "spmm_bench"),
                               f"^sparse-(csr|lookup)/({names})/(1|16|128)/90$",
                               0.05, 1e-9)
    print(f"torch {torch.__version__}, 1 thread, {int(SPARSITY * 100)}% magnitude-pruned\n")
    print("| shape (out x in) | N | torch dense (us) | torch.sparse_csr (us) | "
          "spruce (us) | spruce vs torch.sparse_csr | torch dense / torch.sparse_csr |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (out, inp, n), (dense, sparse) in torch_times.items():
        ours = min(spruce[k] for k in (f"sparse-csr/{out}x{inp}/{n}/90",
                                        f"sparse-lookup/{out}x{inp}/{n}/90")
                   if k in spruce)
        print(f"| {out}x{inp} | {n} | {dense * 1e6:.1f} | {sparse * 1e6:.1f} | "
              f"{ours * 1e6:.1f} | {sparse / ours:.1f}x | {dense / sparse:.2f}x |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build")
