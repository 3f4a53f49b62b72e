package dev.mlxarena.metal;

import com.sun.jna.Pointer;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.ResidencySet;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * An {@code MTLResidencySet} through the shim. Additions and removals are staged natively and
 * applied by {@link #commit()}; the pool commits once per call that changed the set, and {@link
 * #flush()} commits whatever is pending for callers with their own dispatch loop.
 *
 * <p>The shim keeps the set's membership itself and holds each member from its addition until the
 * commit that applies its removal, so the order that frees memory safely is: {@link #remove},
 * {@link #commit}, then {@link MetalDevice#free} (the order MLX uses). The shim refuses to free a
 * buffer that is still a member, staged or committed.
 *
 * <p>Membership is mirrored on the Java side, keyed by the buffer object (one per
 * native buffer), so that {@link #contains} needs no native call. Adding a member twice or
 * removing a non-member throws {@link IllegalStateException} with the shim's message. Once the set
 * is released with its device, every call but {@link #contains}, {@link #size} and {@link #flush}
 * throws {@link IllegalStateException}. Thread-safe: all native calls on the set are serialised
 * here.
 */
public final class MetalResidencySet implements ResidencySet {
  private final ShimLibrary shim;
  private final Pointer set;
  private final Set<DeviceBuffer> members = Collections.newSetFromMap(new IdentityHashMap<>());
  private boolean pending;
  private boolean released;

  MetalResidencySet(ShimLibrary shim, Pointer set) {
    this.shim = shim;
    this.set = set;
  }

  @Override
  public synchronized void add(DeviceBuffer buffer) {
    MetalBuffer b = MetalDevice.metal(buffer);
    ensureLive("add");
    byte[] err = new byte[MetalDevice.ERR_CAP];
    if (shim.mlxshim_residency_add(set, b.handle, err, err.length) != 0) {
      throw new IllegalStateException("residency add of " + b + ": " + MetalDevice.message(err));
    }
    members.add(b);
    pending = true;
  }

  @Override
  public synchronized void remove(DeviceBuffer buffer) {
    MetalBuffer b = MetalDevice.metal(buffer);
    ensureLive("remove");
    byte[] err = new byte[MetalDevice.ERR_CAP];
    if (shim.mlxshim_residency_remove(set, b.handle, err, err.length) != 0) {
      throw new IllegalStateException("residency remove of " + b + ": " + MetalDevice.message(err));
    }
    members.remove(b);
    pending = true;
  }

  @Override
  public synchronized void commit() {
    ensureLive("commit");
    byte[] err = new byte[MetalDevice.ERR_CAP];
    if (shim.mlxshim_residency_commit(set, err, err.length) != 0) {
      throw new IllegalStateException("residency commit failed: " + MetalDevice.message(err));
    }
    pending = false;
  }

  /** Commits if anything is staged; returns whether it did. False once released. */
  public synchronized boolean flush() {
    if (!pending || released) {
      return false;
    }
    commit();
    return true;
  }

  @Override
  public synchronized boolean contains(DeviceBuffer buffer) {
    return members.contains(buffer);
  }

  @Override
  public synchronized int size() {
    return members.size();
  }

  /**
   * The set's footprint in bytes as of its last commit, as {@code MTLResidencySet.allocatedSize}
   * reports it. Staged changes do not show until committed, and Metal may count internal
   * allocations of the set too, so this is not the sum of the members' lengths (the simulation
   * reports exactly that sum).
   */
  public synchronized long allocatedSize() {
    ensureLive("read allocatedSize");
    byte[] err = new byte[MetalDevice.ERR_CAP];
    long bytes = shim.mlxshim_residency_allocated_size(set, err, err.length);
    if (bytes == -1) {
      throw new IllegalStateException("residency allocatedSize failed: " + MetalDevice.message(err));
    }
    return bytes;
  }

  /**
   * The {@code id<MTLResidencySet>}, borrowed, to attach to your own command queue ({@code
   * addResidencySet:}); detach it before closing the device. The device's internal queue already
   * has it.
   *
   * @throws IllegalStateException once the set was released with its device
   */
  public synchronized long nativeHandle() {
    ensureLive("hand out its native handle");
    byte[] err = new byte[MetalDevice.ERR_CAP];
    Pointer p = shim.mlxshim_residency_native(set, err, err.length);
    if (p == null) {
      throw new IllegalStateException("residency native handle: " + MetalDevice.message(err));
    }
    return Pointer.nativeValue(p);
  }

  Pointer pointer() {
    return set;
  }

  /**
   * Commits what is staged, then releases the native set, which removes its members, commits
   * again and lets go of them. Runs once.
   */
  synchronized void release() {
    if (released) {
      return;
    }
    RuntimeException failure = null;
    if (pending) {
      try {
        commit();
      } catch (RuntimeException e) {
        failure = e;
      }
    }
    released = true;
    members.clear();
    byte[] err = new byte[MetalDevice.ERR_CAP];
    if (shim.mlxshim_residency_release(set, err, err.length) != 0) {
      IllegalStateException e =
          new IllegalStateException("releasing the residency set failed: " + MetalDevice.message(err));
      if (failure != null) {
        e.addSuppressed(failure);
      }
      failure = e;
    }
    if (failure != null) {
      throw failure;
    }
  }

  private void ensureLive(String what) {
    if (released) {
      throw new IllegalStateException("the residency set was released with its device: cannot " + what);
    }
  }
}
