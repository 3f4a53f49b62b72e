package dev.mlxarena;

import java.util.List;

/**
 * A section under the pool's lock, for try-with-resources ({@code try (Section held =
 * section.enter())}), that on leaving closes the fences the rooms released inside it, after the
 * lock is released: under the lock the rooms only list fences ({@link FenceQueue#closeLater}), so
 * that no fence's code runs while the pool is locked. The same holds for the pool's registrars: the
 * device ledger queues their calls, and leaving the section makes them ({@link
 * DeviceLedger#settleRegistrars()}). Leaving a section where nothing was released or queued costs
 * a field read or two. One instance per pool, used only by the thread holding the lock.
 */
final class Section implements AutoCloseable {
  private final PoolLock lock;
  private final FenceQueue fences;
  private final DeviceLedger ledger;

  Section(PoolLock lock, FenceQueue fences, DeviceLedger ledger) {
    this.lock = lock;
    this.fences = fences;
    this.ledger = ledger;
  }

  /** Acquires the pool's lock. */
  Section enter() {
    lock.lock();
    return this;
  }

  /** Releases the lock, then closes what the section released and makes its registrar calls. */
  @Override
  public void close() {
    List<FenceQueue.Closing> done = fences.takeClosable();
    lock.unlock();
    try {
      fences.closeAll(done);
    } finally {
      ledger.settleRegistrars();
    }
  }
}
