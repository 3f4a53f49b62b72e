#!/usr/bin/env bash
# The tensor-parallel decode run in one command, on a machine with two NVIDIA GPUs but no Java,
# Maven or network. It runs from the kit that ../shared/tools/device-kit.sh packs (a jlinked Java
# runtime, the classes and test classpath of cuda-jna and examples, JUnit's console launcher, and
# this folder as native/), carried to the machine as .device:
#
#   ../shared/tools/device-kit.sh [--no-build] cuda-jna examples      # here, from the project root
#   bash .device/native/run-gpu-tp.sh                                 # there, carry [".device"]
#
# Parts, in this order:
#   nccl   the NCCL tests (one rank, then two: all-reduces on one thread per GPU, registration,
#          aborts) and the pool's NCCL registrar (each pooled buffer registered once)
#   tiny   the tiny model, F32, --tp 1 against --tp 2 (buffers unregistered and registered): the
#          same tokens, PASS or FAIL; then the same with fused ops
#   llama  llama-1b, pooled: --tp 1, then --tp 2 unregistered and registered in one run: tokens per
#          second, the all-reduces' GPU time per layer, the pool's overhead per token on each GPU
#
# NVLink multicast stays off: NCCL_NVLS_ENABLE=0 is exported before anything starts, and the demo
# refuses any other value. Every part runs under its own time limit, and a failing part never stops
# the next. Logs go to $OUT (summary.txt and one file per part); a summary is printed last.
# Environment: TOKENS (llama runs, default 256), JAVA_OPTS (extra JVM flags), BUDGET (seconds for
# the whole run, default 500: a part gets at most what is left, and none starts with less than
# 20 s left). The logs write the long class path as $CP.
export NCCL_NVLS_ENABLE=0
set -u
here=$(cd "$(dirname "$0")" && pwd)
kit=$(cd "$here/.." && pwd)
out=${OUT:-$PWD/gpu-tp-out}
mkdir -p "$out"
tokens=${TOKENS:-256}
budget=${BUDGET:-500}

. "$here/kit-env.sh"

# The checksum of a --tp 1 run (its table's first row), and those of a --tp N run (one per
# registration mode), from a step's output.
tp1_checksum() { grep -m1 '^tokens (checksum)' "$1" | sed -E 's/.*\(([^)]*)\)[[:space:]]*$/\1/'; }
tpn_checksums() { grep '^tp-result:' "$1" | sed -E 's/.*checksum=([^ ]*).*/\1/' | tr '\n' ' '; }
# PASS when the --tp 1 checksum is not empty, every --tp N run gave it and every rank agreed.
same_tokens() {
  local one=$1 many=$2 agree=$3 label=$4 verdict=PASS
  [ -n "$one" ] && [ -n "$many" ] || verdict=FAIL
  for c in $many; do [ "$c" = "$one" ] || verdict=FAIL; done
  [ "$agree" = 0 ] || verdict=FAIL
  echo "$label: $verdict (--tp 1: ${one:-none}; --tp 2 unregistered, registered: ${many:-none})"
}
tp_lines() { grep -E '^tp-result:' "$1"; }

{
  echo "run-gpu-tp.sh on $(hostname) at $(date -u +%FT%TZ), NCCL_NVLS_ENABLE=$NCCL_NVLS_ENABLE"
  nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader 2>&1
  nvidia-smi topo -m 2>&1 | head -4
  "$java" -version 2>&1 | head -1
  echo "NVRTC, cuBLAS and NCCL folders named to Java: ${libs:-none found by python3}"
} > "$out/summary.txt"
cat "$out/summary.txt"
verdicts=()

# nccl: the binding's tests and the pool's registrar, on one GPU and across two.
part nccl 120 "$junit_cmd --select-class dev.mlxarena.cuda.NcclTest --select-class dev.mlxarena.cuda.NcclRegistrarTest"

# tiny: --tp 2 must give --tp 1's tokens, registered or not, one kernel per op and fused.
for ops in "" "--fuse"; do
  part tiny 60 "$demo_cmd --model tiny --tokens 200 $ops"
  one=$(tp1_checksum <(last_step tiny))
  part tiny 90 "$demo_cmd --model tiny --tokens 200 --tp 2 --nccl-register both $ops"
  many=$(tpn_checksums <(last_step tiny))
  agree=$(grep -c 'ranks_agree=false' <(last_step tiny))
  verdicts+=("$(same_tokens "$one" "$many" "$agree" "tiny ${ops:-one kernel per op}, --tp 2 tokens == --tp 1 tokens")")
  echo "${verdicts[-1]}" | tee -a "$out/tiny.txt"
done

# llama: tokens per second, all-reduce time per layer, pool overhead per token per GPU.
part llama 110 "$demo_cmd --model llama-1b --tokens $tokens --alloc pool"
llama1=$(grep -E '^(tokens \(checksum\)|tokens per second|allocating \+ recycling per token)' <(last_step llama))
part llama 200 "$demo_cmd --model llama-1b --tokens $tokens --tp 2 --nccl-register both"
llama2=$(last_step llama)

{
  echo
  echo "================ summary"
  for p in nccl tiny llama; do
    case "${status[$p]:-?}" in
      0) verdict=ok ;;
      skipped) verdict="SKIPPED (out of time)" ;;
      *) verdict="FAILED (exit ${status[$p]:-?})" ;;
    esac
    printf '%-6s %s\n' "$p" "$verdict"
  done
  echo "NCCL tests:"
  grep -E '✘|tests (successful|failed|skipped)' "$out/nccl.txt" | sed 's/^/    /'
  echo "tokens:"
  printf '    %s\n' "${verdicts[@]}"
  echo "llama-1b --tp 1 (pooled, $tokens tokens):"
  echo "$llama1" | sed 's/^/    /'
  echo "llama-1b --tp 2 (pooled, $tokens tokens):"
  echo "$llama2" | grep -E '^(pooled, --tp|tokens per second|all-reduce per layer|pool overhead per token|buffers registered|  every rank|error|Exception)' \
    | sed 's/^/    /'
  echo "$llama2" | grep -E '^tp-result:' | sed 's/^/    /'
  echo "(all-reduce per layer: GPU time of the attention's and the feed-forward's all-reduce, waiting for the other"
  echo " rank included, median of the last 8 tokens; pool overhead: allocating + recycling per token, median)"
} | tee -a "$out/summary.txt"
