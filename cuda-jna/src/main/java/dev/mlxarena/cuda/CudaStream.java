package dev.mlxarena.cuda;

import static dev.mlxarena.cuda.CudaException.check;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import dev.mlxarena.BufferAllocationException;
import dev.mlxarena.spi.DeviceStream;
import dev.mlxarena.spi.TrackedDeviceBuffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import org.jspecify.annotations.Nullable;

/**
 * A CUDA stream: an ordered queue of kernels and copies on one GPU, and the {@link DeviceStream}
 * a token scope is opened on ({@code pool.openScope(stream)}), so that the pool hands a closed
 * token's buffers to the next token on the same stream without waiting for the GPU.
 *
 * <pre>{@code
 * try (CudaStream stream = CudaStream.create(gpu)) {
 *   try (Scope token = pool.openScope(stream)) {
 *     Buffer x = token.alloc(bytes, DType.BF16, n);
 *     kernel.ptr(x.nativeHandle()).i32(n).launch(stream, blocks, 256);
 *   } // x goes back in stream order: the next token's kernels on this stream may reuse it at once
 * }
 * }</pre>
 *
 * <p>The stream is created blocking with respect to the legacy default stream, so synchronous
 * copies ({@code Buffer.copyFrom}, {@code copyTo}) stay ordered with the work queued here.
 * Fences come from a small pool of events ({@link #recordFence()} costs one {@code cuEventRecord}
 * once the pool is warm), since one is recorded per token. Copies between host and device go
 * through pinned staging memory ({@link PinnedHostBuffer}) so that they are asynchronous.
 *
 * <p>Thread-safe; launches and copies from several threads are enqueued in whichever order they
 * reach the driver.
 */
public final class CudaStream implements DeviceStream, AutoCloseable {
  private static final int KEPT_EVENTS = 64;

  private final CudaDevice device;
  private final Pointer stream;
  private final long handle;
  /** Events whose fences were closed, ready to record again. Guarded by this. */
  private final ArrayDeque<Pointer> idleEvents = new ArrayDeque<>();
  /** Guarded by this. */
  private boolean closed;
  /** Where cuMemAllocAsync writes its pointer; guarded by itself. */
  private final Memory allocSlot = new Memory(8);
  private final ByteBuffer allocView = allocSlot.getByteBuffer(0, 8).order(ByteOrder.nativeOrder());
  /**
   * The kernel launched last, for error messages only: written by launching threads without
   * ordering, since a slightly stale name in a message costs nothing and a fence per launch would.
   */
  private @Nullable String lastKernel;

  private CudaStream(CudaDevice device, Pointer stream) {
    this.device = device;
    this.stream = stream;
    this.handle = Pointer.nativeValue(stream);
  }

  /** A new stream on {@code device}. */
  public static CudaStream create(CudaDevice device) {
    device.makeCurrent();
    PointerByReference s = new PointerByReference();
    check(CudaDriver.cuStreamCreate(s, 0), "cuStreamCreate");
    return new CudaStream(device, s.getValue());
  }

  /**
   * {@code stream} as a stream of {@code device}.
   *
   * @throws IllegalArgumentException if it is not a {@link CudaStream} of that device
   */
  static CudaStream of(DeviceStream stream, CudaDevice device) {
    if (!(stream instanceof CudaStream) || ((CudaStream) stream).device != device) {
      throw new IllegalArgumentException(stream + " is not a CUDA stream of " + device);
    }
    return (CudaStream) stream;
  }

  @Override
  public CudaDevice device() {
    return device;
  }

  /** The {@code CUstream}, as the address kernels launch and libraries (cuBLAS) bind to. */
  public long handle() {
    return handle;
  }

  /** The {@code CUstream} as the driver calls take it. */
  Pointer pointer() {
    return stream;
  }

  /**
   * A fence at the current end of this stream, over an event from the stream's pool; closing the
   * fence (the buffer pool does, once it completed) gives the event back.
   */
  @Override
  public CudaFence recordFence() {
    device.makeCurrent();
    Pointer event;
    synchronized (this) {
      requireOpen();
      event = idleEvents.pollLast();
    }
    if (event == null) {
      PointerByReference ev = new PointerByReference();
      check(CudaDriver.cuEventCreate(ev, CudaDriver.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
      event = ev.getValue();
    }
    int rc = CudaDriver.cuEventRecord(event, stream);
    if (rc != CudaDriver.CUDA_SUCCESS) {
      recycle(event);
      check(rc, "cuEventRecord");
    }
    return new CudaFence(device, event, this);
  }

  /** Takes back the event of a closed fence. */
  void recycle(Pointer event) {
    synchronized (this) {
      if (!closed && idleEvents.size() < KEPT_EVENTS) {
        idleEvents.addLast(event);
        return;
      }
    }
    device.makeCurrent();
    check(CudaDriver.cuEventDestroy_v2(event), "cuEventDestroy_v2");
  }

  /** Events waiting in the stream's pool for the next fences. */
  synchronized int idleEvents() {
    return idleEvents.size();
  }

  /** Blocks until every piece of work enqueued so far has finished. */
  public void synchronize() {
    device.makeCurrent();
    int rc = CudaDriver.cuStreamSynchronize(stream);
    if (rc != CudaDriver.CUDA_SUCCESS) {
      throw asyncFailure("cuStreamSynchronize", rc);
    }
  }

  /**
   * An error a kernel raised on the GPU, reported by a later call: it names the kernel launched
   * last, since the driver cannot say which one failed.
   */
  CudaException asyncFailure(String call, int rc) {
    String last = lastKernel;
    return new CudaException(call, rc, "an error from work enqueued earlier on " + this
        + (last == null ? "" : "; the last kernel launched there was " + last)
        + "; run with CUDA_LAUNCH_BLOCKING=1 to have the failing launch report it");
  }

  /** Notes the kernel just launched, for error messages. */
  void launched(String kernel) {
    lastKernel = kernel;
  }

  /**
   * Enqueues a copy of {@code bytes} bytes from pinned host memory to device memory.
   *
   * @throws IndexOutOfBoundsException if the range is outside {@code src}
   */
  public void copyToDevice(long dst, PinnedHostBuffer src, long srcOffset, long bytes) {
    long from = src.address(srcOffset, bytes);
    device.makeCurrent();
    check(CudaDriver.cuMemcpyHtoDAsync_v2(dst, from, bytes, handle), "cuMemcpyHtoDAsync_v2");
  }

  /**
   * Enqueues a copy of {@code bytes} bytes from device memory to pinned host memory; read it
   * after a fence recorded later on this stream has completed.
   *
   * @throws IndexOutOfBoundsException if the range is outside {@code dst}
   */
  public void copyToHost(PinnedHostBuffer dst, long dstOffset, long src, long bytes) {
    long to = dst.address(dstOffset, bytes);
    device.makeCurrent();
    check(CudaDriver.cuMemcpyDtoHAsync_v2(to, src, bytes, handle), "cuMemcpyDtoHAsync_v2");
  }

  /** Enqueues a copy between two ranges of device memory. */
  public void copyDeviceToDevice(long dst, long src, long bytes) {
    device.makeCurrent();
    check(CudaDriver.cuMemcpyDtoDAsync_v2(dst, src, bytes, handle), "cuMemcpyDtoDAsync_v2");
  }

  /**
   * Allocates {@code bytes} of device memory in stream order from the device's default memory
   * pool ({@code cuMemAllocAsync}; see {@link CudaMemoryPool}): usable by work enqueued on this
   * stream from now on. Not pooled by mlx-arena: this is the driver's own caching allocator, for
   * comparison. Free it with {@link #freeAsync}.
   *
   * @return the device pointer
   * @throws BufferAllocationException if the device is out of memory
   */
  public long allocateAsync(long bytes) {
    TrackedDeviceBuffer.requirePositive(bytes);
    device.makeCurrent();
    synchronized (allocSlot) {
      int rc = CudaDriver.cuMemAllocAsync(Pointer.nativeValue(allocSlot), bytes, handle);
      if (rc == CudaDriver.CUDA_ERROR_OUT_OF_MEMORY) {
        throw new BufferAllocationException(device.name() + " is out of memory for " + bytes
            + " bytes (cuMemAllocAsync)", bytes, new CudaException("cuMemAllocAsync", rc, ""));
      }
      check(rc, "cuMemAllocAsync");
      return allocView.getLong(0);
    }
  }

  /** Frees memory from {@link #allocateAsync} in stream order, after the work enqueued so far. */
  public void freeAsync(long devicePointer) {
    device.makeCurrent();
    check(CudaDriver.cuMemFreeAsync(devicePointer, handle), "cuMemFreeAsync");
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException(this + " is closed");
    }
  }

  /** Waits for the stream's work, then destroys it and its idle events. Idempotent. */
  @Override
  public void close() {
    Pointer[] events;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      events = idleEvents.toArray(new Pointer[0]);
      idleEvents.clear();
    }
    device.makeCurrent();
    RuntimeException failure = null;
    try {
      synchronize();
    } catch (RuntimeException e) {
      failure = e;
    }
    for (Pointer e : events) {
      CudaDriver.cuEventDestroy_v2(e);
    }
    int rc = CudaDriver.cuStreamDestroy_v2(stream);
    if (failure != null) {
      throw failure;
    }
    check(rc, "cuStreamDestroy_v2");
  }

  @Override
  public String toString() {
    return "CudaStream[0x" + Long.toHexString(handle) + " on " + device.name() + "]";
  }
}
