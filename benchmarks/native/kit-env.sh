# What the run-gpu-*.sh scripts share, sourced after they set $kit (the kit device-kit.sh packed),
# $out (the log folder) and $budget (seconds for the whole run): the Java runtime and class path
# of the kit, the native library folders of the python3 on $PATH, the demo's and JUnit's command
# lines, and part(), which runs a step under a time limit. Needs bash 4.
java="$kit/jre/bin/java"
[ -x "$java" ] || java=java
cp="$(ls "$kit"/lib/*.jar | tr '\n' ':')$kit/cuda-jna/classes:$kit/cuda-jna/test-classes:$kit/examples/classes:$kit/examples/test-classes"
# NVRTC, cuBLAS and NCCL: the Java side searches the toolkit and pip layouts itself; naming the
# folders of the python3 on $PATH here too makes the run independent of how that environment is found.
libs=$(python3 - 2>/dev/null <<'PY'
import importlib.util, os
dirs = []
spec = importlib.util.find_spec("nvidia")
for base in (spec.submodule_search_locations if spec else []) or []:
    for sub in ("cu13/lib", "cu12/lib", "cuda_nvrtc/lib", "cublas/lib", "nccl/lib"):
        d = os.path.join(base, sub)
        if os.path.isdir(d) and d not in dirs:
            dirs.append(d)
print(":".join(dirs))
PY
)
# NVRTC's output is kept between the JVMs of the run: only the first compiles.
jopts="-Dmlxarena.cuda.kernelCache=/tmp/mlxarena-kernel-cache ${JAVA_OPTS:-}"
[ -n "$libs" ] && jopts="$jopts -Dmlxarena.cuda.libraryPath=$libs"
# Each part's commands run under bash -c, so the programs are spelled out as strings.
demo_cmd="\"$java\" $jopts -cp \"$cp\" dev.mlxarena.examples.demo.DecodeDemo --backend cuda --no-progress"
junit_cmd="\"$java\" $jopts -jar \"$kit/console.jar\" execute --class-path \"$cp\" --details=tree --disable-banner --disable-ansi-colors"
declare -A status

# Runs one step of a part with a time limit (cut to what is left of the budget), its output in
# $out/$1.txt (appended), the part's status remembered (its first failure).
part() {
  local name=$1 limit=$2
  shift 2
  local log="$out/$name.txt" t0=$SECONDS left=$((budget - SECONDS - 10))
  if [ "$left" -lt 20 ]; then
    echo "=== $name: skipped, ${left}s of the budget left" | tee -a "$log"
    [ "${status[$name]:-0}" = 0 ] && status[$name]=skipped
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "=== $name: ${*//"$cp"/\$CP} (limit ${limit}s)" | tee -a "$log"
  timeout --kill-after=10 "$limit" bash -c "$*" >>"$log" 2>&1
  local rc=$?
  echo "=== $name: exit $rc after $((SECONDS - t0))s" | tee -a "$log"
  [ "${status[$name]:-0}" = 0 ] && status[$name]=$rc
  return 0
}

# The output of part $1's last step (from its log; nothing when that step was skipped).
last_step() {
  awk -v p="=== $1: " 'index($0, p) == 1 && index($0, p "exit ") != 1 { buf = "" }
    { buf = buf $0 "\n" } END { printf "%s", buf }' "$out/$1.txt"
}
