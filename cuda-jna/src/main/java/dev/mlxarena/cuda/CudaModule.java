package dev.mlxarena.cuda;

import static dev.mlxarena.cuda.CudaException.check;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/**
 * Compiled kernels loaded into a GPU's context ({@code cuModuleLoadDataEx}), and the way to their
 * entry points ({@link #kernel}).
 *
 * <pre>{@code
 * KernelSource src = KernelSource.resource(MyOps.class, "my_ops.cu", "-lineinfo");
 * try (CudaModule ops = CudaModule.compile(gpu, src)) {       // NVRTC at first use, then cached
 *   CudaKernel scale = ops.kernel("scale_f32", 3);
 *   scale.ptr(x.nativeHandle()).f32(0.5f).i32(n).launch(stream, (n + 255) / 256, 256);
 * }
 * }</pre>
 */
public final class CudaModule implements AutoCloseable {
  private static final int LOG_BYTES = 16 * 1024;

  private final CudaDevice device;
  private final KernelImage image;
  private final Pointer module;
  private volatile boolean closed;

  private CudaModule(CudaDevice device, KernelImage image, Pointer module) {
    this.device = device;
    this.image = image;
    this.module = module;
  }

  /**
   * Compiles {@code source} for {@code device} with the process's {@link KernelCompiler} (or takes
   * it from its caches) and loads it.
   */
  public static CudaModule compile(CudaDevice device, KernelSource source) {
    return load(device, KernelCompiler.shared().compile(source, device.computeCapability()));
  }

  /**
   * Loads a compiled image into {@code device}'s context.
   *
   * @throws CudaException if the driver refuses it; for PTX the message carries the driver's
   *     JIT log
   */
  public static CudaModule load(CudaDevice device, KernelImage image) {
    device.makeCurrent();
    byte[] bytes = image.bytesUnsafe();
    Memory data = new Memory(bytes.length + 1L);
    data.write(0, bytes, 0, bytes.length);
    data.setByte(bytes.length, (byte) 0); // PTX is read as a C string
    Memory log = new Memory(LOG_BYTES);
    log.setByte(0, (byte) 0);
    Memory values = new Memory(16);
    values.setPointer(0, log);
    values.setLong(8, LOG_BYTES);
    int[] options = {CudaDriver.CU_JIT_ERROR_LOG_BUFFER, CudaDriver.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    PointerByReference module = new PointerByReference();
    int rc = CudaDriver.cuModuleLoadDataEx(module, data, options.length, options, values);
    if (rc != CudaDriver.CUDA_SUCCESS) {
      String jitLog = log.getString(0).trim();
      throw new CudaException("cuModuleLoadDataEx", rc, image + " on " + device.name()
          + " (sm_" + device.computeCapability() + ")" + (jitLog.isEmpty() ? "" : ": " + jitLog));
    }
    return new CudaModule(device, image, module.getValue());
  }

  /**
   * The entry point {@code name} (an {@code extern "C"} kernel), taking {@code parameters}
   * arguments.
   *
   * @throws CudaException if the module has no such kernel ({@code CUDA_ERROR_NOT_FOUND})
   */
  public CudaKernel kernel(String name, int parameters) {
    requireOpen();
    device.makeCurrent();
    PointerByReference f = new PointerByReference();
    check(CudaDriver.cuModuleGetFunction(f, module, name), "cuModuleGetFunction",
        "no kernel '" + name + "' in " + image);
    return new CudaKernel(this, name, Pointer.nativeValue(f.getValue()), parameters);
  }

  /** The image this module was loaded from. */
  public KernelImage image() {
    return image;
  }

  CudaDevice device() {
    return device;
  }

  void requireOpen() {
    if (closed) {
      throw new IllegalStateException("the module of " + image.name() + " is unloaded");
    }
  }

  /** Unloads the module; its kernels may not be launched afterwards. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    device.makeCurrent();
    check(CudaDriver.cuModuleUnload(module), "cuModuleUnload");
  }
}
