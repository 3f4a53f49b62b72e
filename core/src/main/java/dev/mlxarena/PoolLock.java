package dev.mlxarena;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

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
 * warm-up. Not reentrant: the pool never calls out to user code while holding it.
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

  void lock() {
    if (!STATE.compareAndSet(this, 0, 1)) {
      lockContended();
    }
  }

  void unlock() {
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
