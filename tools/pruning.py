"""How the benchmarks and examples make pruned networks from random ones
(no model hub is reachable; sparsity, not accuracy, sets the speed).

randomize_batchnorm gives BatchNorm the non-trivial statistics a trained
model has. The ways to prune take every Conv2d and Linear weight to a
fraction `amount` of zeros by L1 magnitude, made permanent
(torch.nn.utils.prune, then prune.remove):

  prune_global     one threshold over all of them
                   (prune.global_unstructured): layers with larger weights
                   keep more, and a CNN's first stages stay far denser than
                   `amount`
  prune_per_layer  each to `amount` on its own (prune.l1_unstructured);
                   depthwise convolutions (a few weights each) left dense
  prune_blocks_per_layer
                   each to `amount` of its rows x 1 blocks (`rows` output
                   channels by one input element of the [out, in*kh*kw]
                   weight), smallest L1 norm first: what spruce's BSR
                   kernels run; depthwise convolutions left dense

Each returns the fraction of zeros it left over the weights it pruned.
"""
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune


def randomize_batchnorm(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)


def _weights(model, depthwise=True):
    return [m for m in model.modules()
            if isinstance(m, nn.Linear) or
            (isinstance(m, nn.Conv2d) and (depthwise or m.groups == 1))]


def _zeros(modules):
    zeros = sum(int((m.weight == 0).sum()) for m in modules)
    return zeros / sum(m.weight.numel() for m in modules)


def prune_global(model, amount):
    modules = _weights(model)
    params = [(m, "weight") for m in modules]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured,
                              amount=amount)
    for m, n in params:
        prune.remove(m, n)
    return _zeros(modules)


def prune_per_layer(model, amount):
    modules = _weights(model, depthwise=False)
    for m in modules:
        prune.l1_unstructured(m, "weight", amount=amount)
        prune.remove(m, "weight")
    return _zeros(modules)


def prune_blocks_per_layer(model, amount, rows=4):
    modules = _weights(model, depthwise=False)
    with torch.no_grad():
        for m in modules:
            w = m.weight.view(m.weight.shape[0], -1)
            whole = w.shape[0] // rows * rows
            norms = w[:whole].view(-1, rows, w.shape[1]).abs().sum(1)
            k = int(amount * norms.numel())
            if k == 0:
                continue
            threshold = norms.flatten().kthvalue(k).values
            w[:whole] *= (norms > threshold).repeat_interleave(rows, 0)
            # Rows past the last whole block: by magnitude.
            rest = w[whole:]
            if rest.numel():
                t = rest.abs().flatten().kthvalue(
                    max(1, int(amount * rest.numel()))).values
                rest *= rest.abs() > t
    return _zeros(modules)
