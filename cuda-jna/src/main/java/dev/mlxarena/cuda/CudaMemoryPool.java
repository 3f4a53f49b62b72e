package dev.mlxarena.cuda;

import static dev.mlxarena.cuda.CudaException.check;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/**
 * A device's default memory pool: the driver's own stream-ordered caching allocator behind {@link
 * CudaStream#allocateAsync} ({@code cuMemAllocAsync}). The project uses it as a baseline beside
 * the buffer pool; its figures come from the driver's pool attributes.
 */
public final class CudaMemoryPool {
  /** A release threshold that keeps every freed byte cached ({@code UINT64_MAX}). */
  public static final long KEEP_ALL = -1L;

  private final CudaDevice device;
  private final Pointer pool;

  private CudaMemoryPool(CudaDevice device, Pointer pool) {
    this.device = device;
    this.pool = pool;
  }

  /** The default memory pool of {@code device}. */
  public static CudaMemoryPool defaultOf(CudaDevice device) {
    device.makeCurrent();
    PointerByReference p = new PointerByReference();
    check(CudaDriver.cuDeviceGetDefaultMemPool(p, device.deviceHandle()), "cuDeviceGetDefaultMemPool");
    return new CudaMemoryPool(device, p.getValue());
  }

  /**
   * How many freed bytes the pool may keep at a synchronization point before giving memory back
   * to the system; {@link #KEEP_ALL} keeps everything (what a caching allocator does).
   */
  public void setReleaseThreshold(long bytes) {
    set(CudaDriver.CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, bytes);
  }

  /** Bytes the pool holds from the system now. */
  public long reservedBytes() {
    return get(CudaDriver.CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT);
  }

  /** The most bytes the pool held since the last {@link #resetHighWatermarks()}. */
  public long reservedHighWatermark() {
    return get(CudaDriver.CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH);
  }

  /** Bytes handed out and not freed now. */
  public long usedBytes() {
    return get(CudaDriver.CU_MEMPOOL_ATTR_USED_MEM_CURRENT);
  }

  /** The most bytes handed out at once since the last {@link #resetHighWatermarks()}. */
  public long usedHighWatermark() {
    return get(CudaDriver.CU_MEMPOOL_ATTR_USED_MEM_HIGH);
  }

  /** Restarts both high watermarks from the current values. */
  public void resetHighWatermarks() {
    set(CudaDriver.CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH, 0);
    set(CudaDriver.CU_MEMPOOL_ATTR_USED_MEM_HIGH, 0);
  }

  /** Gives cached memory back to the system until at most {@code bytes} stay reserved. */
  public void trimTo(long bytes) {
    device.makeCurrent();
    check(CudaDriver.cuMemPoolTrimTo(pool, bytes), "cuMemPoolTrimTo");
  }

  private void set(int attribute, long value) {
    device.makeCurrent();
    Memory v = new Memory(8);
    v.setLong(0, value);
    check(CudaDriver.cuMemPoolSetAttribute(pool, attribute, v), "cuMemPoolSetAttribute");
  }

  private long get(int attribute) {
    device.makeCurrent();
    Memory v = new Memory(8);
    check(CudaDriver.cuMemPoolGetAttribute(pool, attribute, v), "cuMemPoolGetAttribute");
    return v.getLong(0);
  }
}
