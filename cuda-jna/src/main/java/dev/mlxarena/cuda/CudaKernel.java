package dev.mlxarena.cuda;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.mlxarena.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.jspecify.annotations.Nullable;

/**
 * One kernel entry point and a pre-built argument block, so that a launch allocates nothing: set
 * the arguments in order, then launch.
 *
 * <pre>{@code
 * rmsNorm.ptr(x).ptr(w).ptr(out).i32(n).f32(1e-5f).launch(stream, 1, 256);
 * }</pre>
 *
 * <h2>The argument block</h2>
 * {@code cuLaunchKernel} takes an array of pointers, one per kernel parameter, each pointing at
 * the parameter's value. The block holds both, built once: eight bytes of value per parameter,
 * and the array of pointers into them. Setting an argument is a store into the values through a
 * direct {@link ByteBuffer} (no JNI call; an {@code int} or {@code float} takes the low four bytes,
 * which is what a 4-byte parameter reads on a little-endian GPU); the driver copies the values at
 * the launch, so the block is ready for the next one as soon as {@code launch} returns. A launch
 * is one JNA direct call with primitive arguments.
 *
 * <p>Launches check that exactly the declared number of arguments was set, and name the kernel,
 * grid and block when the driver refuses. Not thread-safe: the argument block is per kernel
 * object, so a kernel is launched by one thread at a time (make one per thread with {@link
 * CudaModule#kernel} when several launch).
 *
 * <h2>Dependent launches</h2>
 * Between two short kernels on a stream the GPU idles while it launches the second. With {@link
 * #dependentLaunches} on (compute capability 9.0 and up), launches go through {@code
 * cuLaunchKernelEx} with programmatic stream serialization: the GPU may start the kernel while the
 * one before it is finishing. The kernel must then execute {@code griddepcontrol.wait} ({@code
 * cudaGridDependencySynchronize}) before it touches memory the kernel before it writes or reads,
 * and executes {@code griddepcontrol.launch_dependents} to let the next kernel start early; both
 * are no-ops in a launch without the attribute. The launch configuration is a second pre-built
 * block, so such a launch allocates nothing either.
 */
public final class CudaKernel {
  private final CudaModule module;
  private final String name;
  private final long function;
  private final int parameters;
  private final Memory values;
  private final Memory pointers;
  private final ByteBuffer slots;
  private int set;
  /** A {@code CUlaunchConfig} and its one attribute, while dependent launches are on; else null. */
  private @Nullable Memory launchConfig;
  private @Nullable ByteBuffer config;

  CudaKernel(CudaModule module, String name, long function, int parameters) {
    if (parameters < 0) {
      throw new IllegalArgumentException("kernel " + name + ": " + parameters + " parameters");
    }
    this.module = module;
    this.name = name;
    this.function = function;
    this.parameters = parameters;
    long bytes = Math.max(8L, 8L * parameters);
    this.values = new Memory(bytes);
    this.pointers = new Memory(bytes);
    for (int i = 0; i < parameters; i++) {
      pointers.setPointer(8L * i, values.share(8L * i));
    }
    this.slots = values.getByteBuffer(0, bytes).order(ByteOrder.nativeOrder());
  }

  /** The entry point's name. */
  public String name() {
    return name;
  }

  /** How many arguments a launch takes. */
  public int parameters() {
    return parameters;
  }

  /** The next argument: a device pointer ({@code T*}). */
  public CudaKernel ptr(long devicePointer) {
    slots.putLong(next(), devicePointer);
    return this;
  }

  /** The next argument: the device memory of a live buffer, at its byte offset. */
  public CudaKernel ptr(Buffer buffer) {
    return ptr(buffer.nativeHandle() + buffer.byteOffset());
  }

  /** The next argument: an {@code int} (or {@code unsigned int}). */
  public CudaKernel i32(int value) {
    int at = next();
    slots.putLong(at, 0L);
    slots.putInt(at, value);
    return this;
  }

  /** The next argument: a {@code long long} (or {@code unsigned long long}). */
  public CudaKernel i64(long value) {
    slots.putLong(next(), value);
    return this;
  }

  /** The next argument: a {@code float}. */
  public CudaKernel f32(float value) {
    int at = next();
    slots.putLong(at, 0L);
    slots.putFloat(at, value);
    return this;
  }

  /** The eight bytes of argument {@code index} as they stand. */
  long argumentBits(int index) {
    return slots.getLong(8 * index);
  }

  private int next() {
    if (set >= parameters) {
      set = 0;
      throw new IllegalStateException("kernel " + name + " takes " + parameters
          + " arguments; a further one was set (the arguments are reset)");
    }
    return 8 * set++;
  }

  /**
   * Launches this kernel from now on as a programmatic dependent launch ({@code on}), or plainly
   * (see the class comment: the kernel's code must wait for the grid before it with {@code
   * griddepcontrol.wait}).
   *
   * @throws dev.mlxarena.DeviceUnavailableException if the driver has no {@code cuLaunchKernelEx}
   */
  public CudaKernel dependentLaunches(boolean on) {
    if (!on) {
      launchConfig = null;
      config = null;
      return this;
    }
    CudaLaunchEx.load();
    Memory m = new Memory(CudaLaunchEx.CONFIG_BYTES + CudaLaunchEx.ATTRIBUTE_BYTES);
    m.clear();
    ByteBuffer c = m.getByteBuffer(0, m.size()).order(ByteOrder.nativeOrder());
    c.putLong(40, Pointer.nativeValue(m) + CudaLaunchEx.CONFIG_BYTES);
    c.putInt(48, 1);
    c.putInt(CudaLaunchEx.CONFIG_BYTES, CudaLaunchEx.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
    c.putInt(CudaLaunchEx.CONFIG_BYTES + 8, 1);
    launchConfig = m;
    config = c;
    return this;
  }

  /** Whether launches are programmatic dependent launches. */
  public boolean dependentLaunches() {
    return config != null;
  }

  /** Launches a one-dimensional grid of {@code blocks} blocks of {@code threads} threads. */
  public void launch(CudaStream stream, int blocks, int threads) {
    launch(stream, blocks, 1, 1, threads, 1, 1, 0);
  }

  /** Launches a one-dimensional grid with {@code sharedBytes} of dynamic shared memory per block. */
  public void launch(CudaStream stream, int blocks, int threads, int sharedBytes) {
    launch(stream, blocks, 1, 1, threads, 1, 1, sharedBytes);
  }

  /**
   * Enqueues the kernel on {@code stream} with the arguments set since the last launch.
   *
   * @throws IllegalStateException if not exactly {@link #parameters()} arguments were set, or
   *     the module is unloaded
   * @throws CudaException if the driver refuses the launch; the message names the kernel, grid,
   *     block and shared memory. Errors while the kernel runs surface later, at the next
   *     synchronizing call ({@link CudaStream#synchronize}, {@link CudaFence#await})
   */
  public void launch(
      CudaStream stream, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
      int sharedBytes) {
    int given = set;
    set = 0;
    if (given != parameters) {
      throw new IllegalStateException(
          "kernel " + name + " takes " + parameters + " arguments, " + given + " were set");
    }
    module.requireOpen();
    module.device().makeCurrent();
    ByteBuffer c = config;
    int rc;
    if (c == null) {
      rc = CudaDriver.cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY, blockZ,
          sharedBytes, stream.handle(), Pointer.nativeValue(pointers), 0L);
    } else {
      c.putInt(0, gridX).putInt(4, gridY).putInt(8, gridZ);
      c.putInt(12, blockX).putInt(16, blockY).putInt(20, blockZ);
      c.putInt(24, sharedBytes).putLong(32, stream.handle());
      rc = CudaLaunchEx.cuLaunchKernelEx(Pointer.nativeValue(launchConfig), function, Pointer.nativeValue(pointers), 0L);
    }
    if (rc != CudaDriver.CUDA_SUCCESS) {
      throw launchFailure(c == null ? "cuLaunchKernel" : "cuLaunchKernelEx (a dependent launch)", name, rc,
          gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes);
    }
    stream.launched(name);
  }

  /** The exception for a refused launch: the call, the error, and what was launched how. */
  static CudaException launchFailure(
      String call, String kernel, int rc, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
      int sharedBytes) {
    return new CudaException(call, rc, "kernel " + kernel + ", grid (" + gridX + ", "
        + gridY + ", " + gridZ + "), block (" + blockX + ", " + blockY + ", " + blockZ + "), "
        + sharedBytes + " B dynamic shared memory");
  }

  @Override
  public String toString() {
    return "CudaKernel[" + name + ", " + parameters + " parameters]";
  }
}
