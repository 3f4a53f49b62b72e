"""PyTorch eager decode of the demo's model: the baseline beside the JVM demo's GPU runs.

The model is the demo's (examples' GpuTransformer): token embedding; per layer RMSNorm, q/k/v
projections, rotary positions (rotate-half pairs, theta 10000), grouped-query attention over a
KV cache (scores, softmax in fp32, weighted values), o projection and residual, RMSNorm, SwiGLU
(gate, up, down) and residual; final norm, LM head, greedy argmax. Batch 1, random weights
(torch's generator: the point is the cost of a token, not which tokens come out), written the way
an eager engine writes it: one PyTorch op per step of the model, every output a new tensor.

As in the demo, the host never waits for a token before enqueuing the next step: the next step's
embedding reads the id from device memory, and the host reads each id `--lag` tokens later through
pinned memory and an event.

    python3 torch_decode.py [--model llama-1b|tiny] [--tokens 200] [--lag 2]
    PYTORCH_NO_CUDA_MEMORY_CACHING=1 python3 torch_decode.py    # cudaMalloc/cudaFree per tensor

Prints tokens per second, tensors allocated per token (counted once with a dispatch mode, so the
count is the same with or without the caching allocator) and the caching allocator's own count
and peaks where it keeps them.
"""
import argparse
import collections
import math
import os
import time
import zlib

import torch
import torch.nn.functional as F
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

SHAPES = {
    # name: vocab, hidden, layers, heads, kv_heads, ffn, dtype
    "llama-1b": (32000, 2048, 16, 32, 8, 8192, torch.bfloat16),
    "tiny": (1024, 256, 6, 8, 8, 1024, torch.float32),
}
EPS = 1e-5
THETA = 10000.0


class Model:
    def __init__(self, name, context, device, seed):
        vocab, h, layers, heads, kv_heads, ffn, dtype = SHAPES[name]
        self.vocab, self.h, self.heads, self.kv_heads, self.ffn, self.dtype = vocab, h, heads, kv_heads, ffn, dtype
        self.d = h // heads
        self.group = heads // kv_heads
        self.scale = 1.0 / math.sqrt(self.d)
        g = torch.Generator(device=device).manual_seed(seed)

        def rand(rows, cols, scale):
            w = torch.empty(rows, cols, dtype=dtype, device=device)
            for i in range(0, rows, 4096):  # in slices: no 4-byte copy of a whole 2 GB model
                n = min(4096, rows - i)
                w[i:i + n] = ((torch.rand(n, cols, generator=g, device=device) * 2 - 1) * scale).to(dtype)
            return w

        def ones(n):
            return torch.ones(n, dtype=dtype, device=device)

        kvd = kv_heads * self.d
        self.embed = rand(vocab, h, 1.0)
        self.layers = []
        for _ in range(layers):
            self.layers.append(dict(
                attn_norm=ones(h), wq=rand(h, h, h ** -0.5), wk=rand(kvd, h, h ** -0.5), wv=rand(kvd, h, h ** -0.5),
                wo=rand(h, h, h ** -0.5), ffn_norm=ones(h), wg=rand(ffn, h, h ** -0.5), wu=rand(ffn, h, h ** -0.5),
                wd=rand(h, ffn, ffn ** -0.5)))
        self.final_norm = ones(h)
        self.lm_head = rand(vocab, h, h ** -0.5)
        half = self.d // 2
        inv = THETA ** (-2.0 * torch.arange(half, dtype=torch.float64) / self.d)
        angles = torch.arange(context, dtype=torch.float64)[:, None] * inv[None, :]
        self.cos = angles.cos().float().to(device)
        self.sin = angles.sin().float().to(device)
        self.k_cache = [torch.zeros(context, kv_heads, self.d, dtype=dtype, device=device) for _ in range(layers)]
        self.v_cache = [torch.zeros(context, kv_heads, self.d, dtype=dtype, device=device) for _ in range(layers)]

    def weight_bytes(self):
        n = self.embed.numel() + self.lm_head.numel() + self.final_norm.numel()
        n += sum(w.numel() for layer in self.layers for w in layer.values())
        return n * self.embed.element_size()

    def rms(self, x, w):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS)).to(self.dtype) * w

    def rope(self, x, pos):
        half = self.d // 2
        x1, x2 = x[..., :half].float(), x[..., half:].float()
        c, s = self.cos[pos], self.sin[pos]
        return torch.cat((x1 * c - x2 * s, x2 * c + x1 * s), dim=-1).to(self.dtype)

    def forward(self, token, pos):
        """token: a 1-element int64 tensor on the device. Returns the next id, on the device."""
        x = self.embed[token]                                                  # [1, h]
        n = pos + 1
        for l, p in enumerate(self.layers):
            xn = self.rms(x, p["attn_norm"])
            q = self.rope(F.linear(xn, p["wq"]).view(self.heads, self.d), pos)
            k = self.rope(F.linear(xn, p["wk"]).view(self.kv_heads, self.d), pos)
            v = F.linear(xn, p["wv"]).view(self.kv_heads, self.d)
            self.k_cache[l][pos].copy_(k)
            self.v_cache[l][pos].copy_(v)
            qg = q.view(self.kv_heads, self.group, self.d)
            scores = torch.einsum("kgd,nkd->kgn", qg, self.k_cache[l][:n]) * self.scale
            probs = torch.softmax(scores.float(), dim=-1).to(self.dtype)
            attn = torch.einsum("kgn,nkd->kgd", probs, self.v_cache[l][:n]).reshape(1, self.h)
            x = x + F.linear(attn, p["wo"])
            xn = self.rms(x, p["ffn_norm"])
            x = x + F.linear(F.silu(F.linear(xn, p["wg"])) * F.linear(xn, p["wu"]), p["wd"])
        logits = F.linear(self.rms(x, self.final_norm), self.lm_head)
        return torch.argmax(logits, dim=-1)


class CountAllocations(TorchDispatchMode):
    """Counts op outputs that got new memory (views of an input do not), on the model's device."""

    def __init__(self, cuda):
        super().__init__()
        self.cuda = cuda
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        for t in pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.is_cuda == self.cuda and t.untyped_storage().nbytes() > 0 \
                    and t.untyped_storage().data_ptr() not in inputs:
                self.count += 1
        return out


def generate(model, ids, host, tokens, lag):
    cuda = ids.is_cuda
    pending = collections.deque()
    for pos in range(tokens):
        nxt = model.forward(ids[pos:pos + 1], pos)
        ids[pos + 1:pos + 2].copy_(nxt)
        host[pos + 1:pos + 2].copy_(ids[pos + 1:pos + 2], non_blocking=cuda)
        ev = torch.cuda.Event() if cuda else None
        if ev is not None:
            ev.record()
        pending.append((ev, pos))
        while len(pending) > lag:
            ev, p = pending.popleft()
            if ev is not None:
                ev.synchronize()
            int(host[p + 1])
    if cuda:
        torch.cuda.synchronize()
    return [int(i) for i in host[1:tokens + 1]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="llama-1b", choices=sorted(SHAPES))
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=16)
    ap.add_argument("--lag", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--device", default="cuda", help="cuda, or cpu to smoke-test the script (no timing value)")
    a = ap.parse_args()
    dev = torch.device(a.device, 0) if a.device == "cuda" else torch.device(a.device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    caching = os.environ.get("PYTORCH_NO_CUDA_MEMORY_CACHING", "0") in ("", "0")
    t0 = time.perf_counter()
    model = Model(a.model, a.tokens, dev, a.seed)
    sync()
    setup = time.perf_counter() - t0
    ids = torch.zeros(a.tokens + 1, dtype=torch.long, device=dev)
    host = torch.zeros(a.tokens + 1, dtype=torch.long, pin_memory=cuda)
    ids[0] = a.seed % model.vocab

    generate(model, ids, host, min(a.warmup, a.tokens), a.lag)
    with torch.no_grad(), CountAllocations(cuda) as counter:
        model.forward(ids[0:1], 0)
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_stats().get("allocation.all.allocated", 0) if cuda else 0
    t0 = time.perf_counter()
    with torch.no_grad():
        out = generate(model, ids, host, a.tokens, a.lag)
    elapsed = time.perf_counter() - t0
    counted = torch.cuda.memory_stats().get("allocation.all.allocated", 0) - before if cuda else 0

    crc = 0
    for t in out:
        crc = zlib.crc32(t.to_bytes(4, "big", signed=True), crc)
    where = f"GPU {torch.cuda.get_device_name(0)}" if cuda else f"device {dev}"
    print(f"{where}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"caching allocator {'on' if caching else 'OFF (PYTORCH_NO_CUDA_MEMORY_CACHING=1)'}")
    print(f"model {a.model} ({str(model.dtype).replace('torch.', '')}), weights {model.weight_bytes() / 2**30:.2f} GiB,"
          f" made in {setup:.1f} s; {a.tokens} tokens, readback lag {a.lag}")
    print(f"tokens per second          {a.tokens / elapsed:10.1f}")
    print(f"ms per token               {1e3 * elapsed / a.tokens:10.3f}")
    print(f"tensors allocated per token {counter.count:9d}")
    if counted:
        print(f"allocator allocations/token {counted / a.tokens:9.0f}")
    if cuda:
        print(f"peak allocated / reserved  {torch.cuda.max_memory_allocated() / 2**30:7.2f} GiB /"
              f" {torch.cuda.max_memory_reserved() / 2**30:.2f} GiB")
    print(f"tokens (checksum)          {len(out)} ({crc:08x}; torch's weights, not comparable with the demo's)")


if __name__ == "__main__":
    main()
