#!/usr/bin/env python3
"""Builds the small pruned models that spruce's tests and demo use.

Uses Debian's python3-torch and python3-onnx (run with /usr/bin/python3).
Each fixture is a directory in the layout of the ONNX backend test data:

    tests/fixtures/<name>/model.onnx
    tests/fixtures/<name>/test_data_set_0/input_K.pb, output_K.pb  (TensorProto)
    tests/fixtures/<name>/input_0.npy, output_0.npy                (NumPy, MLPs)

Fixtures:
  mlp_pruned90         Flatten + 3 Linear + ReLU, global L1 magnitude pruning
                       to 90%, prune.remove() called, exported as Gemm.
  mlp_pruned90_masked  the same pruned model exported *before* prune.remove():
                       the graph computes weight = weight_orig * weight_mask.
  mlp_matmul           Linear on [batch, tokens, features] inputs, exported as
                       MatMul + Add, pruned 80%.
  lstm_pruned90        nn.LSTM, 2 layers, bidirectional, batch_first, its
                       weight_ih/weight_hh pruned to 90% (global L1,
                       prune.remove() called); inputs x, h0, c0; outputs y,
                       h_n, c_n.
  lstm_pruned90_zero_state
                       the same model pruned but prune.remove() not called,
                       run without h0/c0 (PyTorch exports zero states shaped
                       from the input), batch and sequence length dynamic.
  cnn_pruned90         a small CNN with what ResNet and MobileNet export:
                       Conv + BatchNorm + ReLU, MaxPool, residual blocks with
                       a strided 1x1 downsample, an inverted residual with a
                       depthwise Conv and ReLU6 (Clip), AveragePool,
                       GlobalAveragePool, Flatten, Gemm; each Conv and Linear
                       weight pruned to 90% by L1 magnitude (per layer: at
                       this size a global threshold would zero whole layers),
                       prune.remove() called.
  bert_tiny_pruned90   tools/bert_like.py's encoder, small (2 layers, hidden
                       64, 4 heads, FFN 128, vocabulary 100), exported at
                       opset 14 (decomposed LayerNorm, erf GELU, the additive
                       attention mask, dynamic batch and sequence); every
                       Linear weight pruned to 90% by global L1 magnitude,
                       prune.remove() called; inputs input_ids and
                       attention_mask (int64, the last quarter padded).
  gru_pruned90         nn.GRU, 2 layers, bidirectional, batch_first (exported
                       with linear_before_reset=1), weight_ih/weight_hh
                       pruned to 90% (global L1, prune.remove() called);
                       inputs x, h0; outputs y, h_n; batch and sequence
                       dynamic.
  rnn_relu_pruned90    nn.RNN with ReLU, 2 layers, one direction, sequence
                       first, pruned alike, run without h0 (zero state).
                       Both also as model_unfolded.onnx, exported without
                       constant folding (the same test data).
  (group "unfolded": lstm_pruned90_unfolded, an LSTM exported without
                       constant folding, and the same model folded.)
  decoder_dynamic      a GPT-2-style decoder (token and position embeddings,
                       causal attention masked by a bool tril buffer,
                       GELU MLP, LayerNorm; 2 layers, width 32, 4 heads),
                       Linear weights pruned to 80% (global L1), exported
                       with dynamic batch and sequence (torch.arange of the
                       sequence length becomes Range); its test data is at
                       a shape other than the export's.
  decoder_dynamic_unfolded
                       the same exported without constant folding.
  encoder_prenorm_dynamic
                       nn.TransformerEncoder of 2 pre-norm layers (width 32,
                       4 heads, batch_first), Linear weights pruned to 80%,
                       dynamic batch and sequence (nn.MultiheadAttention's
                       reshapes to batch x heads), test data at another
                       shape; encoder_prenorm_dynamic_unfolded the same
                       exported without constant folding.
  vit_dynamic          torchvision's VisionTransformer, tiny (32x32 images,
                       8x8 patches, 2 layers, width 32), its zero class
                       token expanded to a dynamic batch, pruned 80%, test
                       data at another batch; vit_dynamic_unfolded the same
                       exported without constant folding.
  mlp_activations_dynamic
                       Linear layers with LeakyReLU, ELU and LogSoftmax,
                       pruned 80%, dynamic batch, test data at another
                       batch.
  shuffle_unit_dynamic two ShuffleNet v2 units (channel split by chunk, 1x1 and
                       depthwise convs, channel shuffle by view/transpose/
                       view(batch, -1, H, W)), dynamic batch, test data at
                       another batch.
  swin_dynamic         torchvision's SwinTransformer, tiny (24x24 images, 4x4
                       patches, 4x4 windows padded from a 6x6 grid, shifted
                       windows, 2 stages of 2 blocks, width 16), every
                       Linear and Conv pruned 80% per layer, dynamic batch,
                       test data at another batch.
  mobilenet_v3_small_dynamic, efficientnet_b0_dynamic, shufflenet_v2_dynamic
                       torchvision's networks, narrow (mobilenet_v3_small at
                       a quarter of its width; efficientnet_b0 at 0.15 of
                       its width and a third of its depth; shufflenet_v2
                       with 8-128 channels), 48x48 images; every Linear and
                       non-depthwise Conv pruned 80% per layer, dynamic batch,
                       test data at another batch. swin_dynamic_unfolded and
                       shufflenet_v2_dynamic_unfolded: the same exported
                       without constant folding (the other two export the
                       same file either way).
  kws_conv1d           a Conv1d keyword spotter (Conv1d, BatchNorm1d, ReLU,
                       MaxPool1d, global average pool, Linear), pruned 80%,
                       dynamic batch, test data at another batch.
  einsum_attention_dynamic
                       attention written with torch.einsum (projections
                       against pruned weights, "bhqd,bhkd->bhqk",
                       "bhqk,bhkd->bhqd") and a cumulative-sum position
                       term (torch.cumsum), dynamic batch and sequence,
                       test data at another shape.
  groupnorm_cnn_dynamic
                       convolutions with nn.GroupNorm (4 groups and 1) and
                       nn.InstanceNorm2d (affine), as PyTorch exports them
                       (Reshape, InstanceNormalization, Reshape, Mul, Add),
                       pruned 80%, dynamic batch, test data at another batch.
  encoder_postnorm_dynamic
                       a post-norm nn.TransformerEncoder (2 layers, width 32),
                       pruned 80%, dynamic batch and sequence, test data at
                       another shape.

Usage: /usr/bin/python3 tools/make_fixtures.py [--out tests/fixtures]
                                               [--only NAME ...]
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


class Lstm(nn.Module):
    """nn.LSTM returning (y, h_n, c_n), with or without initial state."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(12, 20, num_layers=2, bidirectional=True,
                            batch_first=True)

    def forward(self, x, h0=None, c0=None):
        y, (h, c) = self.lstm(x, None if h0 is None else (h0, c0))
        return y, h, c


def lstm_params(model):
    return [(model.lstm, n) for n, _ in model.lstm.named_parameters()
            if n.startswith("weight_")]


def save_multi(out_dir, name, model, inputs, input_names, dynamic,
               constant_folding=True, onnx_name="model.onnx"):
    """Exports `model` with several named inputs and outputs y, h_n, c_n."""
    d = os.path.join(out_dir, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    model.eval()
    with torch.no_grad():
        outputs = model(*inputs)
    output_names = ["y", "h_n", "c_n"][:len(outputs)]
    torch.onnx.export(model, tuple(inputs), os.path.join(d, onnx_name),
                      input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic, opset_version=OPSET,
                      do_constant_folding=constant_folding)
    for kind, names, tensors in (("input", input_names, inputs),
                                 ("output", output_names, outputs)):
        for k, (n, t) in enumerate(zip(names, tensors)):
            a = t.detach().numpy().astype(np.float32)
            proto = onnx.numpy_helper.from_array(a, name=n)
            path = os.path.join(d, "test_data_set_0", f"{kind}_{k}.pb")
            with open(path, "wb") as f:
                f.write(proto.SerializeToString())
    onnx.checker.check_model(onnx.load(os.path.join(d, onnx_name)))
    print(f"{name}: {os.path.getsize(os.path.join(d, onnx_name))} bytes")


def unfolded_fixture(out_dir):
    """A pruned 2-layer bidirectional LSTM exported without constant
    folding (weights built by Slice/Concat/Unsqueeze of initializers), and
    the same model folded (model_folded.onnx): both must convert alike."""
    torch.manual_seed(1)
    model = Lstm()
    params = lstm_params(model)
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured,
                              amount=0.9)
    for module, name in params:
        prune.remove(module, name)
    x = torch.randn(2, 5, 12)
    dynamic = {"x": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"},
               "h_n": {1: "batch"}, "c_n": {1: "batch"}}
    for folding, onnx_name in ((False, "model.onnx"),
                               (True, "model_folded.onnx")):
        save_multi(out_dir, "lstm_pruned90_unfolded", model, [x], ["x"],
                   dynamic, constant_folding=folding, onnx_name=onnx_name)


def gru_rnn_fixtures(out_dir):
    """gru_pruned90 and rnn_relu_pruned90 (see the module docstring)."""
    torch.manual_seed(2)

    class Recurrent(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer

        def forward(self, x, h0=None):
            return self.layer(x, h0)

    for name, layer, batch_first, with_state in (
            ("gru_pruned90", nn.GRU(12, 20, num_layers=2, bidirectional=True,
                                    batch_first=True), True, True),
            ("rnn_relu_pruned90", nn.RNN(12, 24, num_layers=2,
                                         nonlinearity="relu"), False, False)):
        model = Recurrent(layer)
        params = [(layer, n) for n, _ in layer.named_parameters()
                  if n.startswith("weight_")]
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured,
                                  amount=0.9)
        for module, n in params:
            prune.remove(module, n)
        x = torch.randn(3, 7, 12) if batch_first else torch.randn(7, 3, 12)
        b, s = (0, 1) if batch_first else (1, 0)
        dynamic = {"x": {b: "batch", s: "seq"}, "y": {b: "batch", s: "seq"},
                   "h_n": {1: "batch"}}
        inputs, names = [x], ["x"]
        if with_state:
            dirs = 2 if layer.bidirectional else 1
            inputs.append(torch.randn(2 * dirs, 3, layer.hidden_size))
            names.append("h0")
            dynamic["h0"] = {1: "batch"}
        save_multi(out_dir, name, model, inputs, names, dynamic)
        # Without constant folding PyTorch builds the weights with Slice,
        # Concat and Unsqueeze: the same test data.
        save_multi(out_dir, name, model, inputs, names, dynamic,
                   constant_folding=False, onnx_name="model_unfolded.onnx")


class Decoder(nn.Module):
    """GPT-2-style decoder (see the module docstring)."""

    def __init__(self, vocab=50, width=32, heads=4, layers=2, context=16):
        super().__init__()
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(context, width)
        self.register_buffer(
            "mask", torch.tril(torch.ones(context, context, dtype=torch.bool)))
        self.blocks = nn.ModuleList(nn.ModuleDict(dict(
            ln1=nn.LayerNorm(width), qkv=nn.Linear(width, 3 * width),
            proj=nn.Linear(width, width), ln2=nn.LayerNorm(width),
            fc=nn.Linear(width, 4 * width), out=nn.Linear(4 * width, width)))
            for _ in range(layers))
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)
        self.heads = heads

    def forward(self, ids):
        batch, seq = ids.shape
        x = self.tok(ids) + self.pos(torch.arange(seq, device=ids.device))
        for b in self.blocks:
            q, k, v = b["qkv"](b["ln1"](x)).split(x.shape[-1], dim=-1)
            hd = x.shape[-1] // self.heads
            q, k, v = (t.view(batch, seq, self.heads, hd).transpose(1, 2)
                       for t in (q, k, v))
            a = (q @ k.transpose(-2, -1)) / hd ** 0.5
            a = a.masked_fill(~self.mask[:seq, :seq], float("-inf"))
            y = (a.softmax(-1) @ v).transpose(1, 2).reshape(batch, seq, -1)
            x = x + b["proj"](y)
            x = x + b["out"](nn.functional.gelu(b["fc"](b["ln2"](x))))
        return self.head(self.ln(x))


class ShuffleUnit(nn.Module):
    """A ShuffleNet v2 unit (see the module docstring)."""

    def __init__(self, channels):
        super().__init__()
        half = channels // 2
        self.branch = nn.Sequential(
            nn.Conv2d(half, half, 1), nn.ReLU(),
            nn.Conv2d(half, half, 3, padding=1, groups=half),
            nn.Conv2d(half, half, 1), nn.ReLU())

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        y = torch.cat((a, self.branch(b)), dim=1)
        n, c, h, w = y.shape
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous()
        return y.view(n, -1, h, w)


def save_at_other_shape(out_dir, name, model, export_x, test_x, dynamic,
                        constant_folding=True):
    """Exports `model` on `export_x`; its test data is for `test_x`."""
    d = os.path.join(out_dir, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    model.eval()
    torch.onnx.export(model, export_x, os.path.join(d, "model.onnx"),
                      input_names=["input"], output_names=["output"],
                      dynamic_axes=dynamic, opset_version=14,
                      do_constant_folding=constant_folding)
    with torch.no_grad():
        y = model(test_x)
    for kind, t in (("input", test_x), ("output", y)):
        a = t.detach().numpy()
        if a.dtype != np.int64:
            a = a.astype(np.float32)
        proto = onnx.numpy_helper.from_array(a, name=kind)
        with open(os.path.join(d, "test_data_set_0", f"{kind}_0.pb"), "wb") as f:
            f.write(proto.SerializeToString())
    onnx.checker.check_model(onnx.load(os.path.join(d, "model.onnx")))
    print(f"{name}: {os.path.getsize(os.path.join(d, 'model.onnx'))} bytes")


def prune_linears(model, amount):
    """Global L1 pruning of every nn.Linear weight (and in-projection of
    nn.MultiheadAttention), made permanent."""
    params = [(m, "weight") for m in model.modules()
              if isinstance(m, nn.Linear)]
    params += [(m, "in_proj_weight") for m in model.modules()
               if isinstance(m, nn.MultiheadAttention)]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured,
                              amount=amount)
    for m, n in params:
        prune.remove(m, n)


def architecture_fixtures(out_dir):
    """decoder_dynamic(_unfolded), encoder_prenorm_dynamic(_unfolded),
    vit_dynamic, shuffle_unit_dynamic and kws_conv1d (see the
    docstring)."""
    torch.manual_seed(3)
    decoder = Decoder()
    prune_linears(decoder, 0.8)
    dynamic = {"input": {0: "batch", 1: "seq"},
               "output": {0: "batch", 1: "seq"}}
    for folding, name in ((True, "decoder_dynamic"),
                          (False, "decoder_dynamic_unfolded")):
        save_at_other_shape(out_dir, name, decoder,
                            torch.randint(0, 50, (2, 9)),
                            torch.randint(0, 50, (3, 5)), dynamic, folding)
    # Exported with autograd on: PyTorch's fused attention fast path (no
    # ONNX export) then stays off.
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(
        32, 4, 64, dropout=0.0, batch_first=True, norm_first=True), 2)
    prune_linears(encoder, 0.8)
    for folding, name in ((True, "encoder_prenorm_dynamic"),
                          (False, "encoder_prenorm_dynamic_unfolded")):
        save_at_other_shape(out_dir, name, encoder, torch.randn(2, 9, 32),
                            torch.randn(3, 5, 32), dynamic, folding)
    import torchvision
    torch.manual_seed(4)
    vit = torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=32,
        mlp_dim=64, num_classes=10)
    prune_linears(vit, 0.8)
    for folding, name in ((True, "vit_dynamic"),
                          (False, "vit_dynamic_unfolded")):
        save_at_other_shape(out_dir, name, vit, torch.randn(2, 3, 32, 32),
                            torch.randn(3, 3, 32, 32),
                            {"input": {0: "batch"}, "output": {0: "batch"}},
                            folding)
    torch.manual_seed(7)
    mlp_acts = nn.Sequential(
        nn.Linear(20, 64), nn.LeakyReLU(0.1), nn.Linear(64, 32), nn.ELU(),
        nn.Linear(32, 10), nn.LogSoftmax(-1))
    prune_linears(mlp_acts, 0.8)
    save_at_other_shape(out_dir, "mlp_activations_dynamic", mlp_acts,
                        torch.randn(2, 20), torch.randn(5, 20),
                        {"input": {0: "batch"}, "output": {0: "batch"}})
    torch.manual_seed(6)
    # Two units: the second splits channels the first's shuffle reshaped.
    unit = nn.Sequential(ShuffleUnit(16), ShuffleUnit(16))
    unit.eval()
    save_at_other_shape(out_dir, "shuffle_unit_dynamic", unit,
                        torch.randn(2, 16, 6, 6), torch.randn(3, 16, 6, 6),
                        {"input": {0: "batch"}, "output": {0: "batch"}})
    torch.manual_seed(5)
    kws = nn.Sequential(
        nn.Conv1d(40, 64, 5, padding=2), nn.BatchNorm1d(64), nn.ReLU(),
        nn.MaxPool1d(2), nn.Conv1d(64, 64, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 12))
    for m in kws.modules():
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            prune.l1_unstructured(m, "weight", amount=0.8)
            prune.remove(m, "weight")
    kws.eval()
    kws[1].running_mean.uniform_(-0.5, 0.5)
    kws[1].running_var.uniform_(0.5, 1.5)
    save_at_other_shape(out_dir, "kws_conv1d", kws, torch.randn(2, 40, 50),
                        torch.randn(3, 40, 50),
                        {"input": {0: "batch"}, "output": {0: "batch"}})


class EinsumAttention(nn.Module):
    """Attention in einsum form, as research code writes it."""

    def __init__(self, dim=32, heads=4):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Parameter(torch.randn(3, dim, dim) / dim ** 0.5)
        self.out = nn.Parameter(torch.randn(dim, dim) / dim ** 0.5)

    def forward(self, x):
        b, n, d = x.shape
        x = x + torch.cumsum(x, dim=1) / 8
        q, k, v = (torch.einsum("bnd,ed->bne", x, self.qkv[i])
                   .reshape(b, n, self.heads, d // self.heads)
                   .transpose(1, 2) for i in range(3))
        scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / (d // self.heads) ** 0.5
        y = torch.einsum("bhqk,bhkd->bhqd", scores.softmax(-1), v)
        y = y.transpose(1, 2).reshape(b, n, d)
        return torch.einsum("bnd,de->bne", y, self.out)


def einsum_fixture(out_dir):
    """einsum_attention_dynamic (see the docstring)."""
    torch.manual_seed(9)
    model = EinsumAttention()
    with torch.no_grad():
        for w in (model.qkv, model.out):
            w[w.abs() < w.abs().flatten().kthvalue(int(0.8 * w.numel()))
              .values] = 0
    save_at_other_shape(out_dir, "einsum_attention_dynamic", model,
                        torch.randn(2, 9, 32), torch.randn(3, 5, 32),
                        {"input": {0: "batch", 1: "seq"},
                         "output": {0: "batch", 1: "seq"}})


class GroupNormCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.gn = nn.GroupNorm(4, 16)
        self.conv2 = nn.Conv2d(16, 8, 3, padding=1)
        self.instance = nn.InstanceNorm2d(8, affine=True)
        self.layer = nn.GroupNorm(1, 8)

    def forward(self, x):
        x = torch.relu(self.gn(self.conv1(x)))
        return self.layer(self.instance(self.conv2(x)))


def pattern_fixtures(out_dir):
    """groupnorm_cnn_dynamic, encoder_postnorm_dynamic (see the
    docstring)."""
    torch.manual_seed(10)
    cnn = GroupNormCnn()
    with torch.no_grad():  # affine parameters other than the identity's
        for m in (cnn.gn, cnn.instance, cnn.layer):
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.5, 0.5)
    for m in (cnn.conv1, cnn.conv2):
        prune.l1_unstructured(m, "weight", amount=0.8)
        prune.remove(m, "weight")
    save_at_other_shape(out_dir, "groupnorm_cnn_dynamic", cnn,
                        torch.randn(2, 3, 12, 12), torch.randn(3, 3, 12, 12),
                        {"input": {0: "batch"}, "output": {0: "batch"}})
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(
        32, 4, 64, dropout=0.0, batch_first=True, norm_first=False), 2)
    prune_linears(encoder, 0.8)
    save_at_other_shape(out_dir, "encoder_postnorm_dynamic", encoder,
                        torch.randn(2, 9, 32), torch.randn(3, 5, 32),
                        {"input": {0: "batch", 1: "seq"},
                         "output": {0: "batch", 1: "seq"}})


def vision_fixtures(out_dir):
    """swin_dynamic(_unfolded), mobilenet_v3_small_dynamic,
    efficientnet_b0_dynamic, shufflenet_v2_dynamic(_unfolded) (see the
    docstring)."""
    import torchvision
    from torchvision.models import efficientnet, mobilenetv3
    torch.manual_seed(8)
    # 24x24 images in 4x4 patches: a 6x6 grid that the 4x4 windows pad to
    # 8x8, and shifted windows in the second block of each stage.
    swin = torchvision.models.SwinTransformer(
        patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 2],
        window_size=[4, 4], num_classes=10)
    setting, _ = mobilenetv3._mobilenet_v3_conf(
        "mobilenet_v3_small", width_mult=0.25)
    mobilenet = mobilenetv3.MobileNetV3(setting, 64, num_classes=10)
    setting, _ = efficientnet._efficientnet_conf(
        "efficientnet_b0", width_mult=0.15, depth_mult=0.34)
    effnet = efficientnet.EfficientNet(setting, 0.2, num_classes=10,
                                       last_channel=128)
    shufflenet = torchvision.models.ShuffleNetV2(
        [2, 2, 2], [8, 16, 32, 64, 128], num_classes=10)
    batch = {"input": {0: "batch"}, "output": {0: "batch"}}
    for name, model, size in (("swin", swin, 24),
                              ("mobilenet_v3_small", mobilenet, 48),
                              ("efficientnet_b0", effnet, 48),
                              ("shufflenet_v2", shufflenet, 48)):
        model.eval()
        for m in model.modules():  # depthwise convolutions stay dense
            if isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and
                                            m.groups == 1):
                prune.l1_unstructured(m, "weight", amount=0.8)
                prune.remove(m, "weight")
        # BatchNorm statistics other than the identity's.
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
        for folding, suffix in ((True, "_dynamic"), (False, "_dynamic_unfolded")):
            # Without folding the two CNNs export the same file: one kept.
            if not folding and name in ("mobilenet_v3_small",
                                        "efficientnet_b0"):
                continue
            save_at_other_shape(out_dir, name + suffix, model,
                                torch.randn(2, 3, size, size),
                                torch.randn(3, 3, size, size), batch, folding)


def lstm_fixtures(out_dir):
    model = Lstm()
    params = lstm_params(model)
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured,
                              amount=0.9)
    x = torch.randn(3, 7, 12)
    # Before prune.remove: nn.LSTM runs weight_orig * weight_mask, which the
    # exporter folds into the weights.
    save_multi(out_dir, "lstm_pruned90_zero_state", model, [x], ["x"],
               {"x": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"},
                "h_n": {1: "batch"}, "c_n": {1: "batch"}})
    for module, name in params:
        prune.remove(module, name)
    zeros = sum(int((getattr(m, n) == 0).sum()) for m, n in params)
    total = sum(getattr(m, n).numel() for m, n in params)
    print(f"lstm sparsity {zeros / total:.3f}")
    h0 = torch.randn(4, 3, 20)
    c0 = torch.randn(4, 3, 20)
    save_multi(out_dir, "lstm_pruned90", model, [x, h0, c0], ["x", "h0", "c0"],
               {"x": {0: "batch"}, "h0": {1: "batch"}, "c0": {1: "batch"},
                "y": {0: "batch"}, "h_n": {1: "batch"}, "c_n": {1: "batch"}})


class Cnn(nn.Module):
    """ResNet's and MobileNet v2's building blocks, small (input 3x32x32)."""

    def __init__(self):
        super().__init__()
        from torchvision.models.mobilenetv2 import InvertedResidual
        from torchvision.models.resnet import BasicBlock
        self.stem = nn.Sequential(
            nn.Conv2d(3, 16, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1))
        down = nn.Sequential(nn.Conv2d(16, 32, 1, stride=2, bias=False),
                             nn.BatchNorm2d(32))
        self.blocks = nn.Sequential(
            BasicBlock(16, 16), BasicBlock(16, 32, stride=2, downsample=down),
            InvertedResidual(32, 32, stride=1, expand_ratio=4),
            nn.AvgPool2d(2))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(32, 10))

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


def prunable(model):
    return [(m, "weight") for m in model.modules()
            if isinstance(m, (nn.Conv2d, nn.Linear))]


def cnn_fixture(out_dir):
    model = Cnn()
    # BatchNorm statistics that are not the identity, so folding is tested.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    for module, name in prunable(model):
        prune.l1_unstructured(module, name, amount=0.9)
        prune.remove(module, name)
    save(out_dir, "cnn_pruned90", model, torch.randn(2, 3, 32, 32))


def bert_fixture(out_dir):
    import bert_like
    name = "bert_tiny_pruned90"
    model = bert_like.BertLike(vocab=100, hidden=64, heads=4, ffn=128,
                               layers=2, max_positions=32)
    prune_globally(model, 0.9)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            prune.remove(m, "weight")
    print(f"{name} sparsity {sparsity(model):.3f}")
    model.eval()
    inputs = bert_like.example_inputs(batch=2, seq=12, vocab=100, seed=3)
    d = os.path.join(out_dir, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    bert_like.export(model, inputs, os.path.join(d, "model.onnx"), opset=14)
    with torch.no_grad():
        output = model(*inputs)
    tensors = [("input", "input_ids", inputs[0].numpy()),
               ("input", "attention_mask", inputs[1].numpy()),
               ("output", "last_hidden_state", output.numpy())]
    counts = {"input": 0, "output": 0}
    for kind, n, a in tensors:
        proto = onnx.numpy_helper.from_array(a, name=n)
        path = os.path.join(d, "test_data_set_0", f"{kind}_{counts[kind]}.pb")
        counts[kind] += 1
        with open(path, "wb") as f:
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
    parser.add_argument("--only", nargs="*",
                        help="build only these groups: mlp lstm cnn bert "
                             "unfolded gru architectures vision einsum "
                             "patterns")
    args = parser.parse_args()
    only = set(args.only or ["mlp", "lstm", "cnn", "bert", "unfolded", "gru",
                             "architectures", "vision", "einsum",
                             "patterns"])
    # These seed themselves: the others keep their weights.
    if "unfolded" in only:
        unfolded_fixture(args.out)
    if "gru" in only:
        gru_rnn_fixtures(args.out)
    if "architectures" in only:
        architecture_fixtures(args.out)
    if "vision" in only:
        vision_fixtures(args.out)
    if "einsum" in only:
        einsum_fixture(args.out)
    if "patterns" in only:
        pattern_fixtures(args.out)
    torch.manual_seed(0)
    if "bert" in only:
        bert_fixture(args.out)
    if "mlp" not in only:
        if "lstm" in only:
            lstm_fixtures(args.out)
        if "cnn" in only:
            cnn_fixture(args.out)
        return

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

    lstm_fixtures(args.out)
    cnn_fixture(args.out)


if __name__ == "__main__":
    main()
