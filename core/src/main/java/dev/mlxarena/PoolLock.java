package dev.mlxarena;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * The pool's mutual-exclusion lock: a compare-and-set to acquire and a release store to free.
 *
 * <p>Why not {@link java.util.concurrent.locks.ReentrantLock}: its unlock is a volatile write, a
 * full fence on x86, and the steady-state allocation is short enough (a stack pop and a handle)
 * that two fences per call were most of its cost. Here unlock is a plain store with release
 * ordering, which is all mutual exclusion needs: everything written inside the section
 * happens-before the next successful acquire.
 *
 * <p>Contention: a waiter spins briefly (the common section is tens of nanoseconds), then yields,
 * then parks for growing intervals up to 1 ms. There is no queue and no fairness; unlock wakes no
 * one, which is acceptable because the long sections (fresh device allocations) happen during
 * warm-up. Not reentrant. The pool calls no fence, stream, registrar or logger while holding it,
 * but a backend's device (fresh allocation, free, zero-fill) and residency set do run under it: a
 * device that calls back into its pool from there re-enters the lock. The lock notes its holder,
 * so that a re-entry throws {@link IllegalStateException} at once instead of spinning for ever.
 * Only the contended path reads the note, so the uncontended acquire costs one plain store more.
 *
 * <p>{@link #hold()} and {@link #close()} let a section read as {@code try (PoolLock held =
 * lock.hold()) { ... }}: the same acquire and release, without an allocation.
 */
final class PoolLock implements AutoCloseable {
  private static final VarHandle STATE;

  static {
    try {
      STATE = MethodHandles.lookup().findVarHandle(PoolLock.class, "state", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  @SuppressWarnings("unused") // accessed through STATE
  private volatile int state;

  /**
   * The holding thread, written plainly by it after acquiring and cleared before releasing. Read
   * only by a thread that failed to acquire: a thread always sees its own writes, so it finds
   * itself here exactly when it holds the lock; another thread may read a stale value, which is
   * never itself.
   */
  private @Nullable Thread holder;

  void lock() {
    if (!STATE.compareAndSet(this, 0, 1)) {
      lockContended();
    }
    holder = Thread.currentThread();
  }

  void unlock() {
    holder = null;
    STATE.setRelease(this, 0);
  }

  /** Acquires the lock and returns it, for try-with-resources; {@link #close()} releases it. */
  PoolLock hold() {
    lock();
    return this;
  }

  /** Releases the lock taken by {@link #hold()}. */
  @Override
  public void close() {
    unlock();
  }

  private void lockContended() {
    if (holder == Thread.currentThread()) {
      throw new IllegalStateException(
          "the pool was re-entered from code it called while holding its lock (a Device or"
              + " ResidencySet calling back into its own pool), on " + Thread.currentThread());
    }
    int spins = 0;
    long parkNanos = 1_000;
    while (true) {
      if ((int) STATE.getOpaque(this) == 0 && STATE.compareAndSet(this, 0, 1)) {
        return;
      }
      if (spins < 200) {
        spins++;
        Thread.onSpinWait();
      } else if (spins < 220) {
        spins++;
        Thread.yield();
      } else {
        LockSupport.parkNanos(this, parkNanos);
        parkNanos = Math.min(parkNanos * 2, 1_000_000);
      }
    }
  }
}
