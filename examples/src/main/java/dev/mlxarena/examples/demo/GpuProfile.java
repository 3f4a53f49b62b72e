package dev.mlxarena.examples.demo;

import java.util.Arrays;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.jspecify.annotations.Nullable;

/**
 * Where a token's time goes in one profiled run ({@link GpuRun.Probe#profile()}): medians over the
 * tokens, in microseconds, each taken on its own.
 *
 * <p>The host's time per token is the interval from one step's start to the next's. It splits into
 * the kernel launches, the cuBLAS calls, the NCCL collectives (a rank of a tensor-parallel run),
 * allocating, recycling (opening and closing the token scope, the fence it records included; in
 * the driver modes the frees), waiting for read-back token ids, and the rest (the decode loop, the read-back copy and its fence, argument checks):
 * the rest is the median of what each token's interval leaves over. Waiting is time the host
 * spends ahead of the GPU; the host's own work per token is the interval less the waiting.
 *
 * <p>On the GPU, the interval from one token's start mark to the next's is the stream's pace; the
 * span from a token's start mark to its end mark is how long its kernels took from first to last,
 * which includes gaps where the GPU waited for the host's launches. Only the held tokens' spans
 * ({@link StreamHolds}) are the GPU alone.
 *
 * @param tokens how many tokens the medians are over (the last token has no interval, and the first
 *     is left out as a warm-up)
 */
record GpuProfile(
    int tokens, double hostInterval, double launches, double blas, double alloc, double recycle,
    double readback, double rest, double hostWork, double launchCount, double blasCount, double allocCount,
    double gpuInterval, double gpuSpan, double gpuAlone, int held, int holdsTimedOut, double nccl, double ncclCount) {

  /** The profile of {@code r}, or null when it was not profiled. */
  static @Nullable GpuProfile of(GpuRun.Result r) {
    GpuRun.GpuTimes gpu = r.gpu();
    List<GpuRun.TokenStat> t = r.tokens();
    if (gpu == null || t.size() < 3) {
      return null;
    }
    // Token i's interval ends where token i + 1 starts; token 0 (a first touch of everything) is left out.
    List<GpuRun.TokenStat> steady = t.subList(1, t.size() - 1);
    double[] interval = new double[steady.size()];
    double[] rest = new double[steady.size()];
    double[] work = new double[steady.size()];
    for (int i = 0; i < steady.size(); i++) {
      GpuRun.TokenStat s = steady.get(i);
      double iv = (t.get(i + 2).startNanos() - s.startNanos()) / 1e3;
      interval[i] = iv;
      work[i] = iv - s.readbackNanos() / 1e3;
      rest[i] = work[i] - (s.launchNanos() + s.blasNanos() + s.ncclNanos() + s.allocNanos() + s.recycleNanos()) / 1e3;
    }
    return new GpuProfile(steady.size(), median(interval), median(steady, s -> s.launchNanos() / 1e3),
        median(steady, s -> s.blasNanos() / 1e3), median(steady, s -> s.allocNanos() / 1e3),
        median(steady, s -> s.recycleNanos() / 1e3), median(steady, s -> s.readbackNanos() / 1e3), median(rest),
        median(work), median(steady, s -> s.launches()), median(steady, s -> s.blasCalls()),
        median(steady, s -> s.allocations()), median(Arrays.copyOfRange(gpu.intervals(), 1, gpu.intervals().length)),
        median(Arrays.copyOfRange(gpu.spans(), 1, gpu.spans().length)), median(gpu.heldSpans()),
        gpu.heldSpans().length, gpu.holdsTimedOut(), median(steady, s -> s.ncclNanos() / 1e3),
        median(steady, s -> s.ncclCalls()));
  }

  private static double median(List<GpuRun.TokenStat> tokens, ToDoubleFunction<GpuRun.TokenStat> f) {
    return median(tokens.stream().mapToDouble(f).toArray());
  }

  static double median(double[] values) {
    if (values.length == 0) {
      return Double.NaN;
    }
    double[] v = values.clone();
    Arrays.sort(v);
    return v[v.length / 2];
  }
}
