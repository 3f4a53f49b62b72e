#!/usr/bin/env bash
# Runs the project's GPU path on the CPU, so that a GPU run spends its device time on measuring
# rather than on finding a wrong argument. Builds stand-ins for libcuda, NVRTC, cuBLAS and NCCL
# (cpu-stand-in/: synchronous, device memory is host memory, the demo's kernels as C functions that
# walk the same grid and check every range they touch against the live allocations; STAND_IN_GPUS
# GPUs in one process, an all-reduce that sums on the host; the toolkit's cuda.h gives the
# driver's prototypes), then runs against them, over a kit device-kit.sh packed:
# the CUDA backend's tests, the demo's GPU tests and kernel self-check, tiny --compare runs, tiny
# --tp 2 on two stand-in GPUs against --tp 1 (the same tokens: PASS or FAIL) (with --llama, also
# llama-1b runs of four tokens, several minutes of CPU). Timings mean nothing here; kernels'
# numerics are checked on the GPU itself (DecodeKernelsSelfCheckTest).
#
# Where unshare can make a private mount namespace, the library search's tests run once more with
# the stand-ins mounted over the toolkit's default place, /usr/local/cuda/lib64 (visible to that
# one process only), as on a machine with the toolkit installed: they must not depend on it.
#
#   ../shared/tools/device-kit.sh [--no-build] cuda-jna examples
#   bash benchmarks/native/check-gpu-path-on-cpu.sh [--llama] [KIT]      (KIT: .device by default)
#
# Needs cc and the CUDA toolkit's headers ($CUDA_HOME/include, else /usr/local/cuda/include).
set -u
llama=0
if [ "${1:-}" = "--llama" ]; then llama=1; shift; fi
kit=$(cd "${1:-.device}" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
inc=${CUDA_HOME:-/usr/local/cuda}/include
[ -f "$inc/cuda.h" ] || { echo "no cuda.h in $inc: set CUDA_HOME to the toolkit" >&2; exit 2; }
libs=$(mktemp -d)
trap 'rm -rf "$libs"' EXIT
src="$here/cpu-stand-in"
cc -O2 -fPIC -shared -Wall -I"$inc" -o "$libs/libcuda.so.1" "$src/stand_in_driver.c" "$src/stand_in_kernels.c" -lm \
    -lpthread &&
  ln -s libcuda.so.1 "$libs/libcuda.so" &&
  cc -O2 -fPIC -shared -Wall -o "$libs/libnvrtc.so.13" "$src/stand_in_nvrtc.c" &&
  cc -O2 -fPIC -shared -Wall -o "$libs/libcublas.so.13" "$src/stand_in_cublas.c" "$libs/libcuda.so.1" \
    -Wl,-rpath,'$ORIGIN' &&
  cc -O2 -fPIC -shared -Wall -o "$libs/libnccl.so.2" "$src/stand_in_nccl.c" "$libs/libcuda.so.1" -lpthread \
    -Wl,-rpath,'$ORIGIN' || { echo "building the stand-ins failed" >&2; exit 1; }

java="$kit/jre/bin/java"
[ -x "$java" ] || java=java
cp="$(ls "$kit"/lib/*.jar | tr '\n' ':')$kit/cuda-jna/classes:$kit/cuda-jna/test-classes:$kit/examples/classes:$kit/examples/test-classes"
export LD_LIBRARY_PATH="$libs"
jopts=(-Djna.library.path="$libs" -Dmlxarena.cuda.libraryPath="$libs" -Dmlxarena.cuda.kernelCache="$libs/kernels")
failed=0
junit() {
  "$java" "${jopts[@]}" -jar "$kit/console.jar" execute --class-path "$cp" --details=summary --disable-banner \
    --disable-ansi-colors "$@" || failed=1
}
demo() {
  "$java" "${jopts[@]}" -cp "$cp" dev.mlxarena.examples.demo.DecodeDemo --backend cuda --no-progress "$@" || failed=1
}
echo "=== the CUDA backend's tests, on one GPU and on two (the NCCL tests across ranks need two)"
junit --scan-classpath "$kit/cuda-jna/test-classes" --include-classname '.*'
STAND_IN_GPUS=2 junit --select-class dev.mlxarena.cuda.NcclTest --select-class dev.mlxarena.cuda.NcclRegistrarTest
toolkit_default=/usr/local/cuda/lib64
if unshare -m true 2>/dev/null || unshare -rm true 2>/dev/null; then
  echo "=== the library search's tests with a toolkit at $toolkit_default (a private mount)"
  tk="$libs/toolkit"
  mkdir -p "$tk" && cp "$libs/libnvrtc.so.13" "$libs/libcublas.so.13" "$tk/"
  ns=(unshare -m)
  unshare -m true 2>/dev/null || ns=(unshare -rm)
  "${ns[@]}" bash -c 'mkdir -p "$1" 2>/dev/null; mount --bind "$2" "$1" && shift 2 && exec "$@"' _ \
    "$toolkit_default" "$tk" "$java" "${jopts[@]}" -jar "$kit/console.jar" execute --class-path "$cp" \
    --details=summary --disable-banner --disable-ansi-colors --select-class dev.mlxarena.cuda.CudaLibrariesTest || failed=1
else
  echo "=== (no private mount namespace here: the library search's tests ran without a toolkit at $toolkit_default only)"
fi
echo "=== the demo's GPU tests, and the kernel self-check without its timings (the stand-in kernels are the references' twins)"
junit --select-class dev.mlxarena.examples.demo.GpuDecodeTest
STAND_IN_GPUS=2 junit --select-class dev.mlxarena.examples.demo.GpuTensorParallelTest
jopts+=(-Dmlxarena.selfcheck.timings=false)
junit --select-class dev.mlxarena.examples.demo.DecodeKernelsSelfCheckTest
echo "=== the demo, tiny, every allocation mode"
demo --model tiny --tokens 24 --compare --poison
echo "=== the demo, tiny, fused ops, profiled"
demo --model tiny --tokens 24 --compare --fuse --profile
echo "=== the demo, tiny, cuBLAS, profiled"
demo --model tiny --tokens 24 --matmul cublas --profile
echo "=== the demo, tiny, --tp 2 on two stand-in GPUs: --tp 1's tokens, buffers unregistered and registered"
for ops in "" "--fuse"; do
  demo --model tiny --tokens 24 $ops > "$libs/tp1.txt"; cat "$libs/tp1.txt"
  STAND_IN_GPUS=2 demo --model tiny --tokens 24 --tp 2 --nccl-register both $ops > "$libs/tp2.txt"; cat "$libs/tp2.txt"
  one=$(grep -m1 '^tokens (checksum)' "$libs/tp1.txt" | sed -E 's/.*\(([^)]*)\)[[:space:]]*$/\1/')
  many=$(grep '^tp-result:' "$libs/tp2.txt" | sed -E 's/.*checksum=([^ ]*).*/\1/' | tr '\n' ' ')
  verdict=PASS
  [ -n "$one" ] && [ "$(echo $many | wc -w)" = 2 ] || verdict=FAIL
  for c in $many; do [ "$c" = "$one" ] || verdict=FAIL; done
  grep -q 'ranks_agree=false' "$libs/tp2.txt" && verdict=FAIL
  echo "tiny ${ops:-one kernel per op}: --tp 2 tokens ($many) == --tp 1 tokens (${one:-none}): $verdict"
  [ "$verdict" = PASS ] || failed=1
done
if [ "$llama" = 1 ]; then
  echo "=== the demo, llama-1b, four tokens, profiled, both op graphs"
  demo --model llama-1b --tokens 4 --compare --profile
  demo --model llama-1b --tokens 4 --fuse --profile
  echo "=== the demo, llama-1b, four tokens, --tp 2 on two stand-in GPUs"
  STAND_IN_GPUS=2 demo --model llama-1b --tokens 4 --tp 2 --nccl-register both
fi
[ "$failed" = 0 ] && echo "the GPU path ran on the CPU stand-ins" || echo "FAILED on the CPU stand-ins"
exit "$failed"
