package dev.mlxarena;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * Finds scopes and owned buffers that become unreachable without {@code close()}, as Netty's leak
 * detector does: a {@link Cleaner} watches the handle the user holds (a {@link Scope}, a {@link
 * Buffer}) while the state behind it stays reachable from its owner. When the handle is collected,
 * the owner is asked to reclaim the state; if it was still open, that was a leak, which is logged
 * with the stack where the handle was made.
 *
 * <p>{@link LeakDetection#SAMPLED} watches one handle in {@link #SAMPLE}; {@link
 * LeakDetection#PARANOID} watches all. Watching costs a stack trace and a cleaner registration, so
 * unsampled handles cost nothing.
 */
final class LeakTracker {
  static final int SAMPLE = 128;
  private static final Logger LOG = System.getLogger(LeakTracker.class.getName());
  /** The one cleaner thread of the library: leak watches, and the pins of views ({@code Block}). */
  static final Cleaner CLEANER = Cleaner.create();
  private static final AtomicLong OPENED = new AtomicLong();
  /** Leaks reported since start-up, for tests. */
  static final AtomicLong REPORTED = new AtomicLong();

  private LeakTracker() {}

  /** Whether the next handle made at {@code level} is watched. */
  static boolean sample(LeakDetection level) {
    return switch (level) {
      case DISABLED -> false;
      case PARANOID -> true;
      case SAMPLED -> OPENED.getAndIncrement() % SAMPLE == 0;
    };
  }

  /** Watches a scope's handle; {@code close} closes its state and says whether it was open. */
  static void watchScope(Object handle, String deviceName, Throwable openedAt, BooleanSupplier close) {
    watch(handle, "LEAK: a Scope of " + deviceName + " became unreachable without close(); its"
        + " buffers go back to the pool now. Close scopes with try-with-resources. It was opened"
        + " here:", openedAt, close);
  }

  /**
   * Watches {@code handle}. Once it is unreachable, {@code reclaim} runs on the cleaner's thread
   * and returns whether the state was still open; if so, {@code report} is logged with {@code
   * madeAt}. Neither {@code reclaim} nor {@code madeAt} may refer to the handle.
   */
  static void watch(Object handle, String report, Throwable madeAt, BooleanSupplier reclaim) {
    CLEANER.register(handle, () -> {
      try {
        if (reclaim.getAsBoolean()) {
          REPORTED.incrementAndGet();
          LOG.log(Level.WARNING, report, madeAt);
        }
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "reclaiming after a leak failed: " + report, e);
      }
    });
  }
}
