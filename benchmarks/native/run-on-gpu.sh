#!/usr/bin/env bash
# Runs every CUDA figure of BENCHMARKS.md in one go on a machine with an NVIDIA GPU: the pool
# (JMH, both storages) and the driver and PyTorch baselines, on the same decode trace.
#   bash benchmarks/native/run-on-gpu.sh JAVA BENCHMARKS_JAR [OUT_DIR]
set -euo pipefail
java=${1:?java executable}
jar=${2:?benchmarks.jar}
out=${3:-.}
here=$(cd "$(dirname "$0")" && pwd)
cuda_home=${CUDA_HOME:-/usr/local/cuda}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
gcc -O2 -o /tmp/cuda_alloc_baselines "$here/cuda_alloc_baselines.c" -I"$cuda_home/include" \
  -L"$cuda_home/lib64/stubs" -lcuda
/tmp/cuda_alloc_baselines "$here/decode-trace.txt" | tee "$out/driver-baselines.txt"
python3 "$here/torch_alloc_baseline.py" "$here/decode-trace.txt" | tee "$out/torch-baseline.txt"
"$java" -jar "$jar" CudaArenaBenchmark -wi 3 -i 5 -prof gc -rf json -rff "$out/jmh-cuda.json" 2>&1 |
  tee "$out/jmh-cuda.txt" | grep -E '^(Benchmark|CudaArena)'
