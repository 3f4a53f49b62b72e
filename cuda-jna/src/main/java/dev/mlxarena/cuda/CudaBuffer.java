package dev.mlxarena.cuda;

import com.sun.jna.Pointer;
import dev.mlxarena.spi.TrackedDeviceBuffer;
import org.jspecify.annotations.Nullable;

/** One CUDA allocation: a device pointer, and for {@link CudaStorage#SHARED} its host mapping. */
final class CudaBuffer extends TrackedDeviceBuffer {
  final long devicePointer;
  final @Nullable Pointer host;
  final CudaDevice owner;

  CudaBuffer(CudaDevice owner, long devicePointer, @Nullable Pointer host, long capacity) {
    super(capacity);
    this.owner = owner;
    this.devicePointer = devicePointer;
    this.host = host;
  }

  /** The {@code CUdeviceptr} kernels take. */
  @Override
  public long nativeHandle() {
    return devicePointer;
  }

  @Override
  public long hostAddress() {
    return host == null ? 0 : Pointer.nativeValue(host);
  }

  @Override
  public String toString() {
    return "CudaBuffer[0x" + Long.toHexString(devicePointer) + ", " + capacity() + " B, "
        + (host == null ? "device" : "shared") + "]";
  }
}
