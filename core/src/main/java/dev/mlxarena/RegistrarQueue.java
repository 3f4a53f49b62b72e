package dev.mlxarena;

import dev.mlxarena.spi.BufferRegistrar;
import dev.mlxarena.spi.DeviceBuffer;
import java.lang.System.Logger.Level;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * A pool's calls to its {@link BufferRegistrar}s (R2): queued by the device ledger under the
 * pool's lock, made without it by {@link #settle()}, which every locked section runs after
 * unlocking ({@link Section#close()}).
 *
 * <h2>Order, and why a section's own calls are done when it returns</h2>
 * Calls are queued in lock order into a lock-free FIFO and made by one thread at a time (this
 * queue's monitor), in that order, each counted in {@link #made} when it has returned. {@link
 * #queued} only grows under the pool's lock, so a thread leaving its section reads a count that
 * includes its own calls; when {@code made} has reached it, every call up to its own has
 * returned (FIFO, one maker at a time). Else it takes the monitor and makes what is queued, or
 * waits for the thread making it. So a fresh buffer is registered before the allocation returns
 * it, and a buffer's deregistration is queued by {@link DeviceLedger#releaseRetired}, after the
 * residency commit, and its memory freed only after every registrar has deregistered it.
 *
 * <p>A registrar that calls back into the pool from a call does not make calls itself (the
 * thread is the one making them, {@link #maker}): what its section queued is made when the
 * outer call returns, so a registrar must not use buffers it allocates from the pool it serves.
 *
 * <p>Failures are contained (see {@link BufferRegistrar}): a failed registration is remembered in
 * {@link #unregistered}, so that the buffer is not deregistered from that registrar; a failed
 * deregistration keeps the memory from the device for good.
 */
final class RegistrarQueue {
  private static final System.Logger LOG = System.getLogger("dev.mlxarena.BufferPool");

  private record Call(DeviceBuffer raw, boolean register) {}

  private final List<BufferRegistrar> registrars;
  /** Gives a deregistered buffer's memory back to the device (the ledger's; called without the lock). */
  private final Consumer<DeviceBuffer> free;
  private final PoolCounters counters;
  private final ConcurrentLinkedQueue<Call> calls = new ConcurrentLinkedQueue<>();
  /** Calls queued: written under the pool's lock, read by any thread. */
  private volatile long queued;
  /** Calls that have returned: written under this queue's monitor, read by any thread. */
  private volatile long made;
  /** The thread making calls, or null: under this queue's monitor. */
  private @Nullable Thread maker;
  /** Per buffer, the registrars whose registration of it failed: under this queue's monitor. */
  private final Map<DeviceBuffer, boolean[]> unregistered = new IdentityHashMap<>();

  RegistrarQueue(List<BufferRegistrar> registrars, Consumer<DeviceBuffer> free, PoolCounters counters) {
    this.registrars = List.copyOf(registrars);
    this.free = free;
    this.counters = counters;
  }

  /** Queues the registration of a fresh buffer with every registrar. The pool's lock is held. */
  void register(DeviceBuffer raw) {
    queue(new Call(raw, true));
  }

  /**
   * Queues the deregistration of {@code raw} from every registrar, then the freeing of its memory.
   * The pool's lock is held; its residency removal, if any, is committed.
   */
  void deregisterThenFree(DeviceBuffer raw) {
    queue(new Call(raw, false));
  }

  private void queue(Call c) {
    calls.add(c);
    queued = queued + 1; // one writer at a time: the pool's lock is held
  }

  /** Makes every call queued so far, or waits for the thread making them. Never under the pool's lock. */
  void settle() {
    if (made == queued) {
      return;
    }
    synchronized (this) {
      if (maker != null) {
        return; // a registrar called back into the pool: the outer loop makes what it queued
      }
      maker = Thread.currentThread();
      try {
        for (Call c = calls.poll(); c != null; c = calls.poll()) {
          if (c.register()) {
            registerWithEach(c.raw());
          } else {
            deregisterFromEach(c.raw());
          }
          made = made + 1;
        }
      } finally {
        maker = null;
      }
    }
  }

  private void registerWithEach(DeviceBuffer raw) {
    for (int i = 0; i < registrars.size(); i++) {
      try {
        registrars.get(i).register(raw);
        counters.registrations++;
      } catch (RuntimeException e) {
        counters.registrarFailures++;
        unregistered.computeIfAbsent(raw, r -> new boolean[registrars.size()])[i] = true;
        LOG.log(Level.WARNING, "registering a pooled device buffer of " + raw.capacity() + " bytes with "
            + registrars.get(i) + " failed; it stays in use unregistered there", e);
      }
    }
  }

  private void deregisterFromEach(DeviceBuffer raw) {
    boolean[] skip = unregistered.remove(raw);
    boolean held = false;
    for (int i = 0; i < registrars.size(); i++) {
      if (skip != null && skip[i]) {
        continue;
      }
      try {
        registrars.get(i).deregister(raw);
        counters.deregistrations++;
      } catch (RuntimeException e) {
        counters.registrarFailures++;
        held = true;
        LOG.log(Level.WARNING, "deregistering a pooled device buffer of " + raw.capacity() + " bytes from "
            + registrars.get(i) + " failed; its memory is kept from the device for good", e);
      }
    }
    if (!held) {
      try {
        free.accept(raw);
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "freeing a deregistered device buffer of " + raw.capacity() + " bytes failed", e);
      }
    }
  }
}
