package dev.mlxarena.cuda;

import com.sun.jna.Pointer;
import dev.mlxarena.Fence;
import org.jspecify.annotations.Nullable;

/**
 * A {@link Fence} over a CUDA event recorded on a stream: complete once the GPU has passed the
 * point where it was recorded, so buffers handed back with it ({@code scope.closeAfter(fence)})
 * are reused only after the kernels queued before it have finished. Polling uses {@code
 * cuEventQuery} and never blocks; the event is destroyed on {@link #close()}.
 */
public final class CudaFence implements Fence {
  private final CudaDevice device;
  private @Nullable Pointer event;
  private volatile boolean complete;

  CudaFence(CudaDevice device, Pointer event) {
    this.device = device;
    this.event = event;
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
    CudaException.check(rc, "cuEventQuery");
    complete = true;
    return true;
  }

  /** Blocks until the GPU reaches the fence. */
  public synchronized void await() {
    Pointer e = event;
    if (e != null && !complete) {
      device.makeCurrent();
      CudaException.check(CudaDriver.cuEventSynchronize(e), "cuEventSynchronize");
      complete = true;
    }
  }

  @Override
  public synchronized void close() {
    Pointer e = event;
    if (e != null) {
      event = null;
      device.makeCurrent();
      CudaException.check(CudaDriver.cuEventDestroy_v2(e), "cuEventDestroy_v2");
    }
  }
}
