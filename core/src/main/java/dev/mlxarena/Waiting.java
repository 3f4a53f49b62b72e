package dev.mlxarena;

import org.jspecify.annotations.Nullable;

/**
 * A fence the pool waits on, as the fence queue and the stream lanes keep it, with what it takes to
 * call the fence without the pool's lock.
 *
 * <h2>Calling fences without the lock</h2>
 * The pool never calls a fence while it holds its lock: a fence is foreign code, which may block in
 * a driver or call back into the pool ({@code pool.stats()}, say). A poll round ({@code
 * FencePoll}) marks the waits it takes {@link #polling} under the lock, calls {@link
 * Fence#isComplete()} without it, and applies what it learnt under the lock again. While a wait is
 * being polled nobody else closes its fence: a room that stops needing it marks it {@link
 * #retired} instead, and the round closes it when it applies. Fences are closed without the lock
 * too: under it the rooms only list them ({@code FenceQueue#closeLater}).
 *
 * <p>{@link #polling} and {@link #retired} are guarded by the pool's lock. {@link #result} and
 * {@link #failure} are written by the polling thread between its two locked steps and read by it
 * in the second, so the lock orders them.
 */
class Waiting {
  /** Not polled in this round. */
  static final byte UNKNOWN = 0;
  static final byte PENDING = 1;
  static final byte COMPLETE = 2;
  /** {@link Fence#isComplete()} threw: what waits for the fence never becomes reusable. */
  static final byte FAILED = 3;

  final Fence fence;
  boolean polling;
  boolean retired;
  byte result;
  @Nullable RuntimeException failure;

  Waiting(Fence fence) {
    this.fence = fence;
  }

  /** Calls the fence once, without the pool's lock, and records what it said. */
  byte poll() {
    try {
      result = fence.isComplete() ? COMPLETE : PENDING;
    } catch (RuntimeException e) {
      failure = e;
      result = FAILED;
    }
    return result;
  }

  /** Records the outcome of a fence that the pool closed before, without calling it. */
  void ended(byte outcome) {
    result = outcome;
    if (outcome == FAILED) {
      failure = new IllegalStateException("the fence failed when polled before, and was closed");
    }
  }

  /**
   * The failure to report for a fence whose {@code isComplete()} threw: its buffers stay held out
   * of reuse until the pool closes.
   */
  IllegalStateException failureReport(long buffers, long bytes) {
    return new IllegalStateException(
        "fence " + fence + " failed when polled: " + failure + "; the " + buffers + " buffer(s) ("
            + bytes + " bytes) handed back with it stay out of reuse until the pool closes",
        failure);
  }
}
