#!/usr/bin/env bash
# The GPU decode run in one command, on a machine with an NVIDIA GPU but no Java, Maven or
# network. It runs from the kit that ../shared/tools/device-kit.sh packs (a jlinked Java runtime,
# the classes and test classpath of cuda-jna and examples, JUnit's console launcher, and this
# folder as native/), carried to the machine as .device:
#
#   ../shared/tools/device-kit.sh [--no-build] cuda-jna examples      # here, from the project root
#   bash .device/native/run-gpu-decode.sh [PART...]                   # there, carry [".device"]
#
# Parts, in this order (all of them by default):
#   selfcheck  every kernel of the demo against a CPU reference, F32 and BF16, one table; then the
#              matrix-vector products on the Llama-1B shapes (cuBLAS both ways and the kernel: GPU
#              alone and host per call), and every kernel of a Llama-1B layer, timed
#   tests      the CUDA backend's tests (pool contract on the GPU, streams, NVRTC, launches, cuBLAS)
#   tiny       the tiny model, F32: the GPU's greedy tokens and logits against the host's over 64
#              tokens (MHA with cuBLAS, GQA with the matvec kernel, both op graphs); the demo's tiny
#              --compare, one kernel per op and fused
#   poison     every allocation mode, readback lag and poisonOnRecycle give the same tokens, in both
#              op graphs; a BF16 GQA model in two modes and both graphs; a profiled run's counts; the
#              demo's tiny --compare --poison
#   llama      the demo's llama-1b --compare --profile (pooled, cuMemAlloc, cuMemAllocAsync: where a
#              token's time goes, and the GPU alone): one kernel per op, fused, and each again with
#              programmatic dependent launches; then pooled unprofiled (what profiling costs); pooled
#              with cuBLAS, profiled; fused with dependent launches, pooled, the host waiting for
#              every token (lag 0)
#   torch      torch_decode.py, llama-1b and tiny, with and without PyTorch's caching allocator
#   sanitizer  a tiny --compare under compute-sanitizer --tool memcheck: one kernel per op, then fused
#              with dependent launches
#   hostprofile  not by default: pooled llama-1b runs (one kernel per op with dependent launches, and
#              fused) under JFR sampling the decode thread every millisecond; jfr_host_profile.py
#              prints the thread's busy time by library layer (the pool, the loop, the CUDA binding,
#              JNA, the demo), with no timer in the loop
#
# Every part runs under its own time limit, and a failing part never stops the next. Logs go to
# $OUT (eight files at most: summary.txt and one per part but info); a summary is printed last.
# Environment: TOKENS (llama and torch runs, default 256), JAVA_OPTS (extra JVM flags), BUDGET
# (seconds for the whole run, default 570: a part gets at most what is left, and none starts with
# less than 20 s left, so the summary is printed inside a 10-minute command). The logs write the
# long class path as $CP.
set -u
here=$(cd "$(dirname "$0")" && pwd)
kit=$(cd "$here/.." && pwd)
out=${OUT:-$PWD/gpu-decode-out}
mkdir -p "$out"
tokens=${TOKENS:-256}
budget=${BUDGET:-570}
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(selfcheck tests tiny poison llama torch sanitizer)
export PYTHONUNBUFFERED=1

. "$here/kit-env.sh"
gpu_test=dev.mlxarena.examples.demo.GpuDecodeTest

{
  echo "run-gpu-decode.sh on $(hostname) at $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  nvcc --version 2>&1 | tail -1
  python3 -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__, "CUDA", torch.version.cuda)' 2>&1
  "$java" -version 2>&1 | head -1
  echo "NVRTC and cuBLAS folders named to Java: ${libs:-none found by python3}"
} > "$out/summary.txt"
cat "$out/summary.txt"

for p in "${parts[@]}"; do
  case "$p" in
    selfcheck)
      part selfcheck 300 "$junit_cmd --select-class dev.mlxarena.examples.demo.DecodeKernelsSelfCheckTest" ;;
    tests)
      part tests 420 "$junit_cmd --scan-classpath \"$kit/cuda-jna/test-classes\" --include-classname '.*'" ;;
    tiny)
      part tiny 300 "$junit_cmd --select-method $gpu_test#tinyGpuTokensAndLogitsEqualTheHosts" \
        "--select-method $gpu_test#tinyWithGroupedQueryAttentionAndTheOwnMatvecKernelEqualsTheHost" \
        "--select-method $gpu_test#tinyWithFusedOpsEqualsTheHost --select-method $gpu_test#tinyWithDependentLaunchesEqualsTheHost"
      part tiny 120 "$demo_cmd --model tiny --tokens 200 --compare"
      part tiny 120 "$demo_cmd --model tiny --tokens 200 --compare --fuse" ;;
    poison)
      part poison 300 "$junit_cmd --select-method $gpu_test#everyAllocationModeLagAndPoisonGivesTheSameTokens" \
        "--select-method $gpu_test#aBf16GroupedQueryModelDecodesTheSameInEveryModeAndItsOpGraphsAgree" \
        "--select-method $gpu_test#aProfiledRunCountsEveryLaunchAndTimesTheGpu"
      part poison 120 "$demo_cmd --model tiny --tokens 200 --compare --poison" ;;
    llama)
      for ops in "" "--fuse" "--pdl" "--fuse --pdl"; do
        part llama 150 "$demo_cmd --model llama-1b --tokens $tokens --compare --profile $ops"
      done
      part llama 100 "$demo_cmd --model llama-1b --tokens $tokens --alloc pool"
      part llama 100 "$demo_cmd --model llama-1b --tokens $tokens --alloc pool --matmul cublas --profile"
      part llama 100 "$demo_cmd --model llama-1b --tokens $tokens --alloc pool --fuse --pdl --readback-lag 0" ;;
    torch)
      for m in llama-1b tiny; do
        part torch 150 "python3 \"$here/torch_decode.py\" --model $m --tokens $tokens"
        part torch 240 "PYTORCH_NO_CUDA_MEMORY_CACHING=1 python3 \"$here/torch_decode.py\" --model $m --tokens $tokens"
      done ;;
    sanitizer)
      sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || echo compute-sanitizer)
      for ops in "" "--fuse --pdl"; do
        part sanitizer 200 "\"$sanitizer\" --tool memcheck --target-processes all --print-limit 20 $demo_cmd --model tiny --tokens 8 --compare $ops"
      done ;;
    hostprofile)
      jfc="$out/sample-1ms.jfc"
      sed -e 's|\(control="method-sampling-java-interval">\)[^<]*<|\11 ms<|' \
          -e 's|\(control="method-sampling-native-interval">\)[^<]*<|\11 ms<|' \
          "$kit/jre/lib/jfr/profile.jfc" > "$jfc"
      for ops in "--pdl" "--fuse --pdl"; do
        rec="/tmp/mlxarena-host-$RANDOM.jfr"
        part hostprofile 150 "\"$java\" -XX:StartFlightRecording=filename=$rec,settings=$jfc $jopts -cp \"$cp\"" \
          "dev.mlxarena.examples.demo.DecodeDemo --backend cuda --no-progress --model llama-1b" \
          "--tokens ${PROFILE_TOKENS:-2048} --alloc pool $ops"
        part hostprofile 90 "\"$kit/jre/bin/jfr\" print --json --events jdk.ExecutionSample,jdk.NativeMethodSample $rec" \
          "| python3 \"$here/jfr_host_profile.py\""
        rm -f "$rec"
      done ;;
    *)
      echo "unknown part '$p'" | tee -a "$out/summary.txt"; status[$p]=2 ;;
  esac
done

# The summary: each part's status and the lines that matter.
{
  echo
  echo "================ summary"
  for p in "${parts[@]}"; do
    log="$out/$p.txt"
    case "${status[$p]:-?}" in
      0) verdict=ok ;;
      skipped) verdict="SKIPPED (out of time: run it alone)" ;;
      *) verdict="FAILED (exit ${status[$p]:-?})" ;;
    esac
    printf '%-10s %s\n' "$p" "$verdict"
    [ -f "$log" ] || continue
    case "$p" in
      selfcheck) grep -E 'FAILED|^kernels:|tests (successful|failed|skipped)' "$log"
        sed -n '/^matrix-vector products/,/^a layer, one kernel per op/p' "$log" ;;
      tests) grep -E '✘|tests (successful|failed|skipped)|MethodSource' "$log" | grep -v MethodSource | head -40 ;;
      tiny|poison) grep -E 'tokens equal|every mode, lag|op graphs|GpuProfile|✘|tests (successful|failed|skipped)|^ops:|^tokens \(checksum\)|^tokens per second|same tokens in every mode|^error' "$log" ;;
      llama) grep -E '^mlx-arena demo|^startup|^ops:|^ {20,}pooled|^tokens|^host|^allocat|^kernel launches|^  share|^peak|^weights|^one token|^fresh|^readback|^same tokens|^pooled:|^where a token|^  (kernel|cuBLAS|allocating|recycling|waiting|the rest|per )|^GPU|^error|Exception' "$log" ;;
      torch) grep -E '^GPU|^model|^tokens per second|^tensors allocated|^allocator|^peak|Error' "$log" ;;
      sanitizer) grep -E 'ERROR SUMMARY|^tokens \(checksum\)|same tokens|Invalid|^error' "$log" ;;
      hostprofile) grep -E "^ops:|^tokens per second|samples on|^  [a-zA-Z(\[]" "$log" | head -80 ;;
    esac | sed 's/^/    /'
  done
} | tee -a "$out/summary.txt"
