package dev.mlxarena.cuda;

import static dev.mlxarena.cuda.CudaException.check;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Page-locked host memory ({@code cuMemHostAlloc}): the staging area that makes copies between
 * host and GPU asynchronous ({@link CudaStream#copyToHost}, {@link CudaStream#copyToDevice}). The
 * host reads what a copy wrote only after a fence recorded behind it has completed.
 *
 * <p>The memory is also mapped into the GPU's address space ({@link #devicePointer()}), so a
 * kernel can read a word the host writes while the kernel runs ({@link #putIntVolatile}).
 *
 * <p>Allocate it once and reuse it: pinning is expensive (tens of microseconds and up).
 */
public final class PinnedHostBuffer implements AutoCloseable {
  private static final VarHandle INTS = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.nativeOrder());

  private final CudaDevice device;
  private final long size;
  private final ByteBuffer view;
  private final long devicePointer;
  private Pointer host;
  private boolean closed;

  private PinnedHostBuffer(CudaDevice device, Pointer host, long size, long devicePointer) {
    this.device = device;
    this.host = host;
    this.size = size;
    this.devicePointer = devicePointer;
    this.view = host.getByteBuffer(0, size).order(ByteOrder.nativeOrder());
  }

  /**
   * {@code bytes} of pinned memory, usable with every stream of {@code device}.
   *
   * @throws IllegalArgumentException if {@code bytes} is not between 1 and {@code
   *     Integer.MAX_VALUE} (the host reads it through one {@link ByteBuffer})
   */
  public static PinnedHostBuffer allocate(CudaDevice device, long bytes) {
    if (bytes < 1 || bytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "pinned staging of " + bytes + " bytes: must be between 1 and " + Integer.MAX_VALUE);
    }
    device.makeCurrent();
    PointerByReference p = new PointerByReference();
    check(CudaDriver.cuMemHostAlloc(p, bytes, CudaDriver.CU_MEMHOSTALLOC_PORTABLE | CudaDriver.CU_MEMHOSTALLOC_DEVICEMAP),
        "cuMemHostAlloc");
    LongByReference d = new LongByReference();
    int rc = CudaDriver.cuMemHostGetDevicePointer_v2(d, p.getValue(), 0);
    if (rc != CudaDriver.CUDA_SUCCESS) {
      CudaDriver.cuMemFreeHost(p.getValue());
      check(rc, "cuMemHostGetDevicePointer_v2");
    }
    return new PinnedHostBuffer(device, p.getValue(), bytes, d.getValue());
  }

  /** The address of the memory in the GPU's address space, for kernels to read and write. */
  public long devicePointer() {
    requireOpen();
    return devicePointer;
  }

  /** The size in bytes. */
  public long size() {
    return size;
  }

  /** A native-order view of the whole buffer (shared: positions are the caller's business). */
  public ByteBuffer asByteBuffer() {
    requireOpen();
    return view.duplicate().order(ByteOrder.nativeOrder());
  }

  /** The 32-bit integer at byte {@code offset}. */
  public int getInt(long offset) {
    requireOpen();
    return view.getInt(Math.toIntExact(offset));
  }

  /**
   * Stores {@code value} at byte {@code offset} with volatile semantics: the store is neither
   * delayed nor reordered with the calls that follow it, so a kernel polling the word through
   * {@link #devicePointer()} sees it.
   */
  public void putIntVolatile(long offset, int value) {
    requireOpen();
    INTS.setVolatile(view, Math.toIntExact(offset), value);
  }

  /** The address of {@code [offset, offset + length)}, checked against the buffer. */
  long address(long offset, long length) {
    requireOpen();
    if (offset < 0 || length < 0 || offset > size - length) {
      throw new IndexOutOfBoundsException(
          "range [" + offset + ", +" + length + ") is outside the " + size + " bytes of " + this);
    }
    return Pointer.nativeValue(host) + offset;
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException(this + " is closed");
    }
  }

  /** Frees the memory; no copy to or from it may still be pending. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    device.makeCurrent();
    check(CudaDriver.cuMemFreeHost(host), "cuMemFreeHost");
  }

  @Override
  public String toString() {
    return "PinnedHostBuffer[" + size + " B]";
  }
}
