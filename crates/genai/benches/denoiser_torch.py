#!/usr/bin/env python3
"""PyTorch companion of benches/denoiser.rs: the Shap-E denoiser at full size (our own minimal
re-implementation of the architecture, random weights), one guided call (batch 2), timed.
Prints one JSON line: {"torch": version, "threads": n, "times": [seconds, ...]}."""
import argparse
import json
import math
import time

import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--repeats", type=int, default=2)
args = p.parse_args()
torch.set_num_threads(args.threads)

W, HEADS, LAYERS, N_CTX, CH, CLIP = 1024, 16, 24, 1024, 1024, 768


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(W), nn.LayerNorm(W)
        self.c_qkv, self.c_proj = nn.Linear(W, 3 * W), nn.Linear(W, W)
        self.c_fc, self.mlp_proj = nn.Linear(W, 4 * W), nn.Linear(4 * W, W)

    def forward(self, x):
        b, t, _ = x.shape
        qkv = self.c_qkv(self.ln_1(x)).view(b, t, HEADS, -1)
        q, k, v = qkv.split(W // HEADS, dim=-1)  # per-head [q|k|v] as Shap-E
        s = 1 / math.sqrt(math.sqrt(W // HEADS))
        w = torch.einsum("bthc,bshc->bhts", q * s, k * s).float().softmax(-1)
        a = torch.einsum("bhts,bshc->bthc", w, v).reshape(b, t, W)
        x = x + self.c_proj(a)
        return x + self.mlp_proj(torch.nn.functional.gelu(self.c_fc(self.ln_2(x))))


class Denoiser(nn.Module):
    def __init__(self):
        super().__init__()
        self.time_fc, self.time_proj = nn.Linear(W, 4 * W), nn.Linear(4 * W, W)
        self.clip_embed, self.input_proj = nn.Linear(CLIP, W), nn.Linear(CH, W)
        self.pos_emb = nn.Parameter(torch.randn(N_CTX, W) * 0.02)
        self.ln_pre, self.ln_post = nn.LayerNorm(W), nn.LayerNorm(W)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.output_proj = nn.Linear(W, 2 * CH)

    def forward(self, x, t, emb):
        half = W // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
        args = t[:, None].float() * freqs[None]
        temb = self.time_proj(torch.nn.functional.gelu(self.time_fc(torch.cat([torch.cos(args), torch.sin(args)], -1))))
        h = self.input_proj(x.view(len(x), N_CTX, CH)) + self.pos_emb
        h = torch.cat([self.clip_embed(emb * math.sqrt(CLIP))[:, None], temb[:, None], h], 1)
        h = self.ln_pre(h)
        for blk in self.blocks:
            h = blk(h)
        return self.output_proj(self.ln_post(h)[:, 2:])


with torch.inference_mode():
    model = Denoiser().eval()
    x = torch.randn(2, N_CTX * CH)
    e = torch.randn(1, CLIP)
    emb = torch.cat([e / e.norm(), torch.zeros_like(e)])
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        out = model(x, torch.tensor([500, 500]), emb)
        times.append(time.perf_counter() - t0)
    assert out.shape == (2, N_CTX, 2 * CH)
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "times": times}))
