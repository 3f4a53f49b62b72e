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
 * <p>Membership is mirrored on the Java side, keyed by the {@link MetalBuffer} object (one per
 * native buffer). Adding a member twice or removing a non-member throws {@link
 * IllegalStateException} with the shim's message, as a real set would misbehave. Thread-safe: all
 * native calls on the set are serialised here.
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
    ensureLive();
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
    ensureLive();
    byte[] err = new byte[MetalDevice.ERR_CAP];
    if (shim.mlxshim_residency_remove(set, b.handle, err, err.length) != 0) {
      throw new IllegalStateException("residency remove of " + b + ": " + MetalDevice.message(err));
    }
    members.remove(b);
    pending = true;
  }

  @Override
  public synchronized void commit() {
    ensureLive();
    shim.mlxshim_residency_commit(set);
    pending = false;
  }

  /** Commits if anything is staged; returns whether it did. */
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

  /** Bytes of the committed members, as {@code MTLResidencySet.allocatedSize}. */
  public synchronized long allocatedSize() {
    ensureLive();
    return shim.mlxshim_residency_allocated_size(set);
  }

  /**
   * The {@code id<MTLResidencySet>}, borrowed, to attach to your own command queue ({@code
   * addResidencySet:}). The device's internal queue already has it.
   */
  public long nativeHandle() {
    return Pointer.nativeValue(shim.mlxshim_residency_native(set));
  }

  Pointer pointer() {
    return set;
  }

  synchronized void release() {
    if (!released) {
      released = true;
      members.clear();
      shim.mlxshim_residency_release(set);
    }
  }

  private void ensureLive() {
    if (released) {
      throw new IllegalStateException("the residency set was released with its device");
    }
  }
}
