package dev.mlxarena;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Finds scopes and owned buffers that become unreachable without {@code close()}, as Netty's leak detector does: a
 * {@link Cleaner} watches the user's {@link Scope} handle while the pool keeps only its {@link
 * ScopeState}. When the handle is collected while its state is still open, the leak is logged with
 * the stack where the scope was opened and the state is closed, so its buffers go back to the pool.
 *
 * <p>{@link LeakDetection#SAMPLED} watches one scope in {@link #SAMPLE}; {@link
 * LeakDetection#PARANOID} watches all. Watching costs a stack trace and a cleaner registration, so
 * unsampled scopes cost nothing.
 */
final class LeakTracker {
  static final int SAMPLE = 128;
  private static final Logger LOG = System.getLogger(LeakTracker.class.getName());
  private static final Cleaner CLEANER = Cleaner.create();
  private static final AtomicLong OPENED = new AtomicLong();
  /** Leaks reported since start-up, for tests. */
  static final AtomicLong REPORTED = new AtomicLong();

  private LeakTracker() {}

  /** Whether the next scope of a pool at {@code level} is watched. */
  static boolean sample(LeakDetection level) {
    return switch (level) {
      case DISABLED -> false;
      case PARANOID -> true;
      case SAMPLED -> OPENED.getAndIncrement() % SAMPLE == 0;
    };
  }

  /** Watches an owned buffer's handle; the block must not refer back to it. */
  static void watch(Buffer handle, Block block, long generation) {
    Throwable openedAt = new Throwable("owned buffer allocated here");
    String what = block.capacity + "-byte owned buffer of " + block.device.name();
    CLEANER.register(handle, () -> {
      try {
        if (OwnedBuffers.close(block, generation)) {
          REPORTED.incrementAndGet();
          LOG.log(Level.WARNING, "LEAK: a " + what + " became unreachable without close(); it is"
              + " freed now. It was allocated here:", openedAt);
        }
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "freeing a leaked owned buffer failed", e);
      }
    });
  }

  /** Watches {@code handle}; its state must not refer back to it. */
  static void watch(Scope handle, ScopeState state) {
    CLEANER.register(handle, () -> {
      if (state.isOpen()) {
        REPORTED.incrementAndGet();
        LOG.log(Level.WARNING, "LEAK: a Scope of " + state.pool.device().name() + " became unreachable"
            + " without close(); its buffers go back to the pool now. Close scopes with"
            + " try-with-resources. It was opened here:", state.openedAt);
        try {
          state.pool.closeScope(state, null);
        } catch (RuntimeException e) {
          LOG.log(Level.WARNING, "closing a leaked scope failed", e);
        }
      }
    });
  }
}
