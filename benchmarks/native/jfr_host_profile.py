#!/usr/bin/env python3
"""Where a decode thread's host time goes, from a JFR recording's method samples.

    jfr print --json --events jdk.ExecutionSample,jdk.NativeMethodSample REC.jfr \
        | python3 jfr_host_profile.py [--thread PREFIX]

JFR samples a thread running Java code as an ExecutionSample and a thread inside native code (a
JNA call into the CUDA driver, say) as a NativeMethodSample; together they are where the thread's
time went, at the sampling period the recording was made with (run-gpu-decode.sh asks for 1 ms).
A thread parked or blocked in the JVM is in neither: the samples are the thread's busy time.

Prints, for the threads whose name starts with PREFIX (default: the decode loop's step thread):
  - the share of samples in native code and in Java code;
  - the share inclusive under each layer of the library, by the outermost frame of that layer
    on the stack (the pool: classes of dev.mlxarena and dev.mlxarena.spi; the decode loop; the
    CUDA binding; JNA; the application), so that "the pool" counts everything the pool's calls
    do, the driver calls it makes included;
  - the methods most often on top of the stack (self time).
"""
import argparse
import collections
import json
import sys


def layer(cls):
    """The library layer a class belongs to, or None for the JDK and other libraries."""
    if cls.startswith("dev.mlxarena.examples."):
        return "application (demo)"
    if cls.startswith("dev.mlxarena.reactive."):
        return "decode loop (scopes module)"
    if cls.startswith("dev.mlxarena.cuda."):
        return "CUDA binding (cuda-jna)"
    if cls.startswith("dev.mlxarena.spi.") or (cls.startswith("dev.mlxarena.") and cls.count(".") == 2):
        return "pool (core)"
    if cls.startswith("com.sun.jna."):
        return "JNA"
    if cls.startswith("reactor."):
        return "Reactor"
    return None


def frames_of(event):
    trace = event["values"].get("stackTrace") or {}
    out = []
    for f in trace.get("frames") or []:
        m = f["method"]
        out.append((m["type"]["name"].replace("/", "."), m["name"]))
    return out  # innermost first


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--thread", default="mlx-arena-decode-")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    events = json.load(sys.stdin)["recording"]["events"]
    kinds = collections.Counter()
    inclusive = collections.Counter()
    pool_by_method = collections.Counter()
    self_time = collections.Counter()
    total = 0
    for e in events:
        thread = (e["values"].get("sampledThread") or {}).get("javaName") or ""
        if not thread.startswith(args.thread):
            continue
        total += 1
        native = e["type"] == "jdk.NativeMethodSample"
        kinds["native code" if native else "Java code"] += 1
        frames = frames_of(e)
        if frames:
            cls, name = frames[0]
            self_time[("[native] " if native else "") + cls + "." + name] += 1
        seen = set()
        outermost_pool = None
        for cls, name in frames:
            lay = layer(cls)
            if lay is not None:
                seen.add(lay)
                if lay == "pool (core)":
                    outermost_pool = cls + "." + name
        for lay in seen:
            inclusive[lay] += 1
        if outermost_pool is not None:
            pool_by_method[outermost_pool] += 1
    if total == 0:
        print("no samples on threads named %s*" % args.thread)
        return 1

    def pct(n):
        return "%6.2f %%" % (100.0 * n / total)

    print("%d samples on threads %s*" % (total, args.thread))
    for k, n in kinds.most_common():
        print("  %-44s %s" % (k, pct(n)))
    print("inclusive, by layer (a sample counts once for each layer on its stack)")
    for k, n in inclusive.most_common():
        print("  %-44s %s" % (k, pct(n)))
    print("the pool's share, by the outermost pool method on the stack")
    for k, n in pool_by_method.most_common(args.top):
        print("  %-70s %s" % (k[-70:], pct(n)))
    print("self: the methods on top of the stack")
    for k, n in self_time.most_common(args.top):
        print("  %-70s %s" % (k[-70:], pct(n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
