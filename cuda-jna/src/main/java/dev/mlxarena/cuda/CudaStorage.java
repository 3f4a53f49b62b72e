package dev.mlxarena.cuda;

/** Where a CUDA buffer's memory lives. */
public enum CudaStorage {
  /**
   * Device memory ({@code cuMemAlloc}): fastest for kernels, no host view. Host access goes
   * through explicit copies ({@code Buffer.copyFrom}/{@code copyTo}).
   */
  DEVICE,
  /**
   * Pinned, mapped host memory ({@code cuMemHostAlloc} with DEVICEMAP | PORTABLE): the host view
   * works directly and kernels reach it over PCIe or NVLink through its device pointer, the
   * analogue of Metal's shared storage. Slow to allocate, which is why pooling it pays most.
   */
  SHARED
}
