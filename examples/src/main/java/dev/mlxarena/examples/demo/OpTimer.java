package dev.mlxarena.examples.demo;

/**
 * What the host spends enqueuing a token's GPU work: kernel launches, cuBLAS calls and NCCL
 * collectives, counted always and timed with {@link System#nanoTime()} when profiling ({@link
 * #timing}). The counters
 * only grow; a run reads them at each step's start and end. Used by the decode thread only.
 *
 * <pre>{@code
 * long t0 = ops.start();
 * kernel.ptr(x).i32(n).launch(stream, blocks, threads);
 * ops.launched(t0);
 * }</pre>
 */
final class OpTimer {
  private boolean timing;
  long launches;
  long launchNanos;
  long blasCalls;
  long blasNanos;
  long ncclCalls;
  long ncclNanos;

  /** Times every call from now on ({@code true}), or only counts them. */
  void timing(boolean on) {
    timing = on;
  }

  boolean timing() {
    return timing;
  }

  /** The start of a call: the time when timing, else 0 (no clock read). */
  long start() {
    return timing ? System.nanoTime() : 0L;
  }

  /** A kernel launch that started at {@code t0} has returned. */
  void launched(long t0) {
    launches++;
    if (timing) {
      launchNanos += System.nanoTime() - t0;
    }
  }

  /** A cuBLAS call that started at {@code t0} has returned. */
  void blasCalled(long t0) {
    blasCalls++;
    if (timing) {
      blasNanos += System.nanoTime() - t0;
    }
  }

  /** An NCCL collective that started at {@code t0} has been enqueued. */
  void ncclCalled(long t0) {
    ncclCalls++;
    if (timing) {
      ncclNanos += System.nanoTime() - t0;
    }
  }
}
