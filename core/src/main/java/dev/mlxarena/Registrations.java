package dev.mlxarena;

import dev.mlxarena.spi.Device;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The owned buffers registered with a pool through {@link BufferPool#registerExisting}: weights
 * and caches the pool makes resident without pooling them. Each maps to whether this pool holds it
 * resident (it does when the pool has a residency set); the holds of all pools that registered a
 * buffer are counted by its {@link OwnedBuffer}, so that the first registration adds it (unless it
 * carries its own registration or is a member already) and the last one dropped removes it, when
 * the buffer is freed ({@link #forget}, called by the buffer's close) or when a pool closes ({@link
 * #dropAll}).
 *
 * <p>Guarded by the pool's lock; a registration also takes the block's monitor, after the lock
 * (see {@link OwnedBuffer}).
 */
@SuppressWarnings("try") // try (PoolLock held = lock.hold()) holds the lock
final class Registrations implements OwnedBuffer.Registrar {
  private final PoolLock lock;
  private final DeviceLedger ledger;
  /** Each registered block: its owner, and whether this pool holds it resident. */
  private final IdentityHashMap<Block, Registration> registered = new IdentityHashMap<>();

  private record Registration(OwnedBuffer owner, boolean holds) {}

  Registrations(PoolLock lock, DeviceLedger ledger) {
    this.lock = lock;
    this.ledger = ledger;
  }

  /**
   * Checks, before taking the lock, that {@code buffer} may be registered with {@code pool}, on
   * {@code device}; returns the buffer's owner.
   */
  static OwnedBuffer requireRegistrable(Buffer buffer, Device device, ScopeState.HandleCloser pool) {
    Checks.notNull(buffer, "buffer");
    Block b = buffer.block;
    if (buffer.isView()) {
      throw new IllegalArgumentException(
          "cannot register a slice view; register the buffer it was sliced from");
    }
    if (!buffer.isValid()) {
      throw buffer.block.staleException(buffer.generation);
    }
    if (!(buffer.recycler instanceof OwnedBuffer owner)) {
      throw new IllegalArgumentException(
          "registerExisting takes owned buffers (Buffer.allocOwned or adoptOwned); " + buffer
              + " is pooled" + (((ScopeState) buffer.recycler).pool == pool ? " by this pool"
              : " by another pool"));
    }
    Checks.sameDevice(b.device, device, "buffer");
    return owner;
  }

  /**
   * Registers the owned block behind {@code buffer}, unless it is registered already: under the
   * pool's lock, once {@code ensureOpen} found the pool open. The block's generation is checked
   * under its monitor, so a buffer closing on another thread is either registered before it closes
   * or refused as stale.
   */
  void register(Buffer buffer, OwnedBuffer owner, Runnable ensureOpen) {
    Block b = buffer.block;
    try (PoolLock held = lock.hold()) {
      ensureOpen.run();
      synchronized (b) {
        if (b.generationAcquire() != buffer.generation) {
          throw buffer.block.staleException(buffer.generation);
        }
        if (registered.containsKey(b)) {
          return;
        }
        boolean holds = ledger.residency() != null;
        if (holds && owner.holdResidency(ledger.isResident(b.raw))) {
          ledger.addRegistered(b.raw);
        }
        registered.put(b, new Registration(owner, holds));
        owner.addRegistrar(this);
      }
    }
  }

  /** Whether {@code buffer} is live and registered here; takes the pool's lock. */
  boolean isRegistered(Buffer buffer) {
    try (PoolLock held = lock.hold()) {
      return registered.containsKey(buffer.block) && buffer.isValid();
    }
  }

  /**
   * Called by an owned buffer's close, before its memory is freed: drops this pool's registration,
   * and the buffer's residency if this was its last hold.
   */
  @Override
  public void forget(Block owned) {
    lock.lock();
    try {
      Registration r = registered.remove(owned);
      if (r != null && dropHold(owned, r)) {
        ledger.commit();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Drops {@code r}'s residency hold; stages the removal and returns true if it was the last. */
  private boolean dropHold(Block b, Registration r) {
    boolean last;
    synchronized (b) {
      last = r.holds() && r.owner().dropResidency();
    }
    if (last) {
      ledger.removeRegistered(b.raw);
    }
    return last;
  }

  /**
   * Drops every registration (the pool is closing), staging the residency removals of what this
   * pool added; returns whether it staged any. The pool's lock is held.
   */
  boolean dropAll() {
    boolean staged = false;
    for (Map.Entry<Block, Registration> e : registered.entrySet()) {
      Block b = e.getKey();
      synchronized (b) {
        e.getValue().owner().removeRegistrar(this);
      }
      staged |= dropHold(b, e.getValue());
    }
    registered.clear();
    return staged && ledger.residency() != null;
  }
}
