package dev.mlxarena;

import java.util.List;

/**
 * A section under the pool's lock, for try-with-resources ({@code try (Section held =
 * section.enter())}), that on leaving closes the fences the rooms released inside it, after the
 * lock is released: under the lock the rooms only list fences ({@link FenceQueue#closeLater}), so
 * that no fence's code runs while the pool is locked. Leaving a section where nothing was released
 * costs one field read. One instance per pool, used only by the thread holding the lock.
 */
final class Section implements AutoCloseable {
  private final PoolLock lock;
  private final FenceQueue fences;

  Section(PoolLock lock, FenceQueue fences) {
    this.lock = lock;
    this.fences = fences;
  }

  /** Acquires the pool's lock. */
  Section enter() {
    lock.lock();
    return this;
  }

  /** Releases the lock, then closes what the section released. */
  @Override
  public void close() {
    List<FenceQueue.Closing> done = fences.takeClosable();
    lock.unlock();
    fences.closeAll(done);
  }
}
