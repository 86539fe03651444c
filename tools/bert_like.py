"""A BERT-like Transformer encoder written the way Hugging Face's BertModel
is, so that torch.onnx.export (PyTorch 1.13) emits the same graph: word,
position and token-type embeddings (Gather), LayerNorm, per-layer separate
query/key/value Linear layers, scaled dot-product attention with an additive
mask built from attention_mask, erf GELU, and post-LayerNorm residuals.

Inputs: input_ids and attention_mask, both int64 [batch, sequence].
Output: the last hidden state, float [batch, sequence, hidden].

Shared by bench/make_models.py (the full-size model) and
tools/make_fixtures.py (a small committed fixture).
"""
import math

import torch
import torch.nn as nn


class Attention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.head_size = hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.output = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)

    def split_heads(self, x):
        shape = x.size()[:-1] + (self.heads, self.head_size)
        return x.view(shape).permute(0, 2, 1, 3)

    def forward(self, x, mask):
        q = self.split_heads(self.query(x))
        k = self.split_heads(self.key(x))
        v = self.split_heads(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2))
        scores = scores / math.sqrt(self.head_size) + mask
        probs = torch.softmax(scores, dim=-1)
        context = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        context = context.view(context.size()[:-2] + (self.heads * self.head_size,))
        return self.norm(self.output(context) + x)


class Layer(nn.Module):
    def __init__(self, hidden, heads, ffn):
        super().__init__()
        self.attention = Attention(hidden, heads)
        self.intermediate = nn.Linear(hidden, ffn)
        self.output = nn.Linear(ffn, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x, mask):
        a = self.attention(x, mask)
        h = self.intermediate(a)
        h = h * 0.5 * (1.0 + torch.erf(h / math.sqrt(2.0)))  # BERT's gelu
        return self.norm(self.output(h) + a)


class BertLike(nn.Module):
    def __init__(self, vocab=8192, hidden=768, heads=12, ffn=3072, layers=4,
                 max_positions=512):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(max_positions, hidden)
        self.token_type = nn.Embedding(2, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList(Layer(hidden, heads, ffn)
                                    for _ in range(layers))
        self.register_buffer("position_ids",
                             torch.arange(max_positions).unsqueeze(0))
        for m in self.modules():  # BERT's initialisation
            if isinstance(m, (nn.Linear, nn.Embedding)):
                m.weight.data.normal_(0.0, 0.02)
            if isinstance(m, nn.Linear):
                m.bias.data.normal_(0.0, 0.02)

    def forward(self, input_ids, attention_mask):
        seq = input_ids.size(1)
        positions = self.position_ids[:, :seq]
        x = (self.word(input_ids) + self.position(positions) +
             self.token_type(torch.zeros_like(input_ids)))
        x = self.norm(x)
        mask = attention_mask[:, None, None, :].to(torch.float32)
        mask = (1.0 - mask) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, mask)
        return x


def example_inputs(batch, seq, vocab, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.int64)
    mask[:, seq - seq // 4:] = 0  # padding at the end, as batched text has
    return ids, mask


def export(model, inputs, path, opset):
    model.eval()
    torch.onnx.export(model, inputs, path,
                      input_names=["input_ids", "attention_mask"],
                      output_names=["last_hidden_state"], opset_version=opset,
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                    "attention_mask": {0: "batch", 1: "sequence"},
                                    "last_hidden_state": {0: "batch", 1: "sequence"}})
