package dev.mlxarena;

import dev.mlxarena.spi.Device;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The owned buffers registered with a pool through {@link BufferPool#registerExisting}: weights
 * and caches the pool makes resident without pooling them. Each maps to whether this pool added it
 * to the residency set (it does not when the buffer carries its own registration or is a member
 * already), so that it removes exactly what it added, when the buffer is freed ({@link #forget},
 * called by the buffer's close) or when the pool closes ({@link #dropAll}).
 *
 * <p>Guarded by the pool's lock; a registration also takes the block's monitor, after the lock
 * (see {@link OwnedBuffer}).
 */
final class Registrations implements OwnedBuffer.Registrar {
  private final PoolLock lock;
  private final DeviceLedger ledger;
  /** Each registered block: its owner, and whether this pool added it to the residency set. */
  private final IdentityHashMap<Block, Registration> registered = new IdentityHashMap<>();

  private record Registration(OwnedBuffer owner, boolean added) {}

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
      throw buffer.staleException();
    }
    if (!(buffer.recycler instanceof OwnedBuffer owner)) {
      throw new IllegalArgumentException(
          "registerExisting takes owned buffers (Device.allocBuffer or adopt); " + buffer
              + " is pooled" + (((ScopeState) buffer.recycler).pool == pool ? " by this pool"
              : " by another pool"));
    }
    Checks.sameDevice(b.device, device, "buffer");
    return owner;
  }

  /**
   * Registers the owned block behind {@code buffer}, unless it is registered already. The pool's
   * lock is held; the block's generation is checked under its monitor, so a buffer closing on
   * another thread is either registered before it closes or refused as stale.
   */
  void register(Buffer buffer, OwnedBuffer owner) {
    Block b = buffer.block;
    synchronized (b) {
      if (b.generationAcquire() != buffer.generation) {
        throw buffer.staleException();
      }
      if (registered.containsKey(b)) {
        return;
      }
      registered.put(b, new Registration(owner, ledger.addRegistered(b.raw, owner.ownResidency)));
      owner.addRegistrar(this);
    }
  }

  /** Whether {@code b} is registered here. The pool's lock is held. */
  boolean contains(Block b) {
    return registered.containsKey(b);
  }

  /** Called by an owned buffer's close, before its memory is freed: drops what this pool added. */
  @Override
  public void forget(Block owned) {
    lock.lock();
    try {
      Registration r = registered.remove(owned);
      if (r != null && r.added()) {
        ledger.removeRegistered(owned.raw);
        ledger.commit();
      }
    } finally {
      lock.unlock();
    }
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
      if (e.getValue().added()) {
        ledger.removeRegistered(b.raw);
        staged = true;
      }
    }
    registered.clear();
    return staged && ledger.residency() != null;
  }
}
