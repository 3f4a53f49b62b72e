package dev.mlxarena.cuda;

import com.sun.jna.Pointer;
import dev.mlxarena.Fence;
import org.jspecify.annotations.Nullable;

/**
 * A {@link Fence} over a CUDA event recorded on a stream: complete once the GPU has passed the
 * point where it was recorded, so buffers handed back with it ({@code scope.closeAfter(fence)})
 * are reused only after the kernels queued before it have finished. Polling uses {@code
 * cuEventQuery} and never blocks. {@link #close()} gives the event back: to the {@link CudaStream}
 * that recorded it (which keeps a few for the next fences), or to the driver.
 */
public final class CudaFence implements Fence {
  private final CudaDevice device;
  private final @Nullable CudaStream recycler;
  private @Nullable Pointer event;
  private volatile boolean complete;

  CudaFence(CudaDevice device, Pointer event) {
    this(device, event, null);
  }

  CudaFence(CudaDevice device, Pointer event, @Nullable CudaStream recycler) {
    this.device = device;
    this.event = event;
    this.recycler = recycler;
  }

  @Override
  public synchronized boolean isComplete() {
    if (complete) {
      return true;
    }
    Pointer e = event;
    if (e == null) {
      return true;
    }
    device.makeCurrent();
    int rc = CudaDriver.cuEventQuery(e);
    if (rc == CudaDriver.CUDA_ERROR_NOT_READY) {
      return false;
    }
    if (rc != CudaDriver.CUDA_SUCCESS) {
      throw asyncFailure("cuEventQuery", rc);
    }
    complete = true;
    return true;
  }

  /** Blocks until the GPU reaches the fence. */
  public synchronized void await() {
    Pointer e = event;
    if (e != null && !complete) {
      device.makeCurrent();
      int rc = CudaDriver.cuEventSynchronize(e);
      if (rc != CudaDriver.CUDA_SUCCESS) {
        throw asyncFailure("cuEventSynchronize", rc);
      }
      complete = true;
    }
  }

  /** An error the GPU raised in some kernel before the fence, named as well as it can be. */
  private CudaException asyncFailure(String call, int rc) {
    return recycler != null ? recycler.asyncFailure(call, rc) : new CudaException(call, rc, "");
  }

  @Override
  public synchronized void close() {
    Pointer e = event;
    if (e != null) {
      event = null;
      if (recycler != null) {
        recycler.recycle(e);
      } else {
        device.makeCurrent();
        CudaException.check(CudaDriver.cuEventDestroy_v2(e), "cuEventDestroy_v2");
      }
    }
  }
}
