"""PyTorch's CUDA caching allocator on the decode trace, beside the pool's JMH figure.

One cycle allocates every size of the trace with torch.empty (uint8, on the GPU), then drops
them all (del), the lifetime of one token scope. Reports nanoseconds per allocation, its release
included, as the mean over the timed cycles after warm-up. The allocator caches, so after warm-up
no cycle calls cudaMalloc.

    python3 torch_alloc_baseline.py decode-trace.txt
"""
import sys
import time

import torch


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "decode-trace.txt"
    with open(path) as f:
        sizes = [int(line) for line in f if line.strip()]
    device = torch.device("cuda", 0)

    def cycle() -> None:
        held = [torch.empty(n, dtype=torch.uint8, device=device) for n in sizes]
        del held

    for _ in range(20):
        cycle()
    torch.cuda.synchronize()
    cycles = 200
    t0 = time.perf_counter_ns()
    for _ in range(cycles):
        cycle()
    torch.cuda.synchronize()
    per = (time.perf_counter_ns() - t0) / (cycles * len(sizes))
    print(f"GPU {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    print(f"{'torch.empty+del':<16} {per:10.1f} ns per allocation ({cycles} cycles of {len(sizes)})")


if __name__ == "__main__":
    main()
