package dev.mlxarena.metal;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.mlxarena.BufferAllocationException;
import dev.mlxarena.DeviceUnavailableException;
import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.ResidencySet;
import dev.mlxarena.spi.TrackedDeviceBuffer;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A Metal device through the {@code mlxshim} C ABI: {@code MTLBuffer}s in shared (default) or
 * private storage, zero-filled by the pool, and an {@code MTLResidencySet} on macOS 15 and later.
 *
 * <pre>{@code
 * try (MetalDevice device = MetalDevice.open();        // real Metal, macOS only
 *      BufferPool pool = BufferPool.create(device)) { ... }
 * }</pre>
 *
 * <p>{@link #openWith(ShimLibrary)} drives any implementation of the ABI through the same code,
 * for example the simulation shim from {@link Shims#sim()}, which is how this class is tested on
 * every OS.
 *
 * <p>Residency sets are skipped where the OS lacks them, and can be switched off with the
 * environment variable {@code MLXARENA_NO_RESIDENCY=1} or the system property {@code
 * mlxarena.noResidency=true}. Thread-safe.
 */
public final class MetalDevice implements Device {
  private static final Logger LOG = System.getLogger(MetalDevice.class.getName());
  static final int ERR_CAP = 512;

  private final ShimLibrary shim;
  private final Pointer device;
  private final String name;
  private final StorageMode storage;
  private final @Nullable MetalResidencySet residency;
  private volatile boolean closed;

  private MetalDevice(ShimLibrary shim, Pointer device, StorageMode storage, boolean residency) {
    this.shim = shim;
    this.device = device;
    this.storage = storage;
    byte[] buf = new byte[256];
    shim.mlxshim_device_name(device, buf, buf.length);
    this.name = message(buf);
    this.residency = residency ? createResidencySet() : null;
  }

  /**
   * Opens the system default Metal device with shared storage.
   *
   * @throws DeviceUnavailableException off macOS, or when no Metal device or shim is found
   */
  public static MetalDevice open() {
    return openWith(Shims.metal(), StorageMode.SHARED, residencyEnabled());
  }

  /** Opens the default device of {@code shim} with shared storage and default residency. */
  public static MetalDevice openWith(ShimLibrary shim) {
    return openWith(shim, StorageMode.SHARED, residencyEnabled());
  }

  /**
   * Opens the default device of {@code shim}.
   *
   * @param storage where buffers live
   * @param residency whether to use a residency set where the OS supports one
   * @throws DeviceUnavailableException if the shim finds no device
   */
  public static MetalDevice openWith(ShimLibrary shim, StorageMode storage, boolean residency) {
    Objects.requireNonNull(shim, "shim");
    Objects.requireNonNull(storage, "storage");
    byte[] err = new byte[ERR_CAP];
    Pointer d = shim.mlxshim_device_create(err, err.length);
    if (d == null) {
      throw new DeviceUnavailableException("no Metal device: " + message(err));
    }
    try {
      return new MetalDevice(shim, d, storage, residency);
    } catch (RuntimeException e) {
      shim.mlxshim_device_release(d);
      throw e;
    }
  }

  /** Whether residency sets are wanted: not when MLXARENA_NO_RESIDENCY=1 or mlxarena.noResidency=true. */
  static boolean residencyEnabled() {
    String env = System.getenv("MLXARENA_NO_RESIDENCY");
    boolean off = "1".equals(env) || "true".equalsIgnoreCase(env)
        || Boolean.getBoolean("mlxarena.noResidency");
    return !off;
  }

  private @Nullable MetalResidencySet createResidencySet() {
    if (shim.mlxshim_residency_supported(device) == 0) {
      LOG.log(Level.DEBUG, "{0}: residency sets unsupported (macOS < 15); continuing without", name);
      return null;
    }
    byte[] err = new byte[ERR_CAP];
    Pointer set = shim.mlxshim_residency_new(device, 256, "mlx-arena", err, err.length);
    if (set == null) {
      throw new DeviceUnavailableException("cannot create a residency set: " + message(err));
    }
    return new MetalResidencySet(shim, set);
  }

  @Override
  public String name() {
    return name;
  }

  /** The storage mode of this device's buffers. */
  public StorageMode storageMode() {
    return storage;
  }

  /** {@code recommendedMaxWorkingSetSize} in bytes. */
  public long recommendedWorkingSetSize() {
    return shim.mlxshim_device_recommended_working_set(device);
  }

  /** The {@code id<MTLDevice>}, borrowed, for building pipelines and queues on it. */
  public long nativeHandle() {
    return Pointer.nativeValue(shim.mlxshim_device_native(device));
  }

  /** The shim this device calls, for tests that reach its hooks. */
  public ShimLibrary shim() {
    return shim;
  }

  Pointer pointer() {
    return device;
  }

  @Override
  public DeviceBuffer allocate(long bytes) {
    ensureOpen();
    TrackedDeviceBuffer.requirePositive(bytes);
    byte[] err = new byte[ERR_CAP];
    Pointer b = shim.mlxshim_buffer_new(device, bytes, storage.code, err, err.length);
    if (b == null) {
      throw new BufferAllocationException(
          name + " could not allocate " + bytes + " bytes: " + message(err), bytes);
    }
    Pointer contents = shim.mlxshim_buffer_contents(b);
    return new MetalBuffer(b, contents == null ? 0 : Pointer.nativeValue(contents), bytes, storage);
  }

  @Override
  public void free(DeviceBuffer buffer) {
    MetalBuffer b = metal(buffer);
    b.markFreed();
    shim.mlxshim_buffer_release(b.handle);
  }

  @Override
  public void fillZero(DeviceBuffer buffer, long offset, long length) {
    MetalBuffer b = live(buffer);
    byte[] err = new byte[ERR_CAP];
    if (shim.mlxshim_buffer_fill_zero(device, b.handle, offset, length, err, err.length) != 0) {
      throw new IllegalStateException("zero-fill of " + b + " failed: " + message(err));
    }
  }

  @Override
  public void write(DeviceBuffer dst, long dstOffset, ByteBuffer src) {
    MetalBuffer b = live(dst);
    ByteBuffer direct = direct(src);
    long length = direct.remaining();
    byte[] err = new byte[ERR_CAP];
    Pointer p = Native.getDirectBufferPointer(direct).share(direct.position());
    if (shim.mlxshim_buffer_write(device, b.handle, dstOffset, p, length, err, err.length) != 0) {
      throw new IndexOutOfBoundsException("write to " + b + " failed: " + message(err));
    }
    src.position(src.position() + (int) length);
  }

  @Override
  public void read(DeviceBuffer src, long srcOffset, ByteBuffer dst) {
    MetalBuffer b = live(src);
    int length = dst.remaining();
    ByteBuffer target = dst.isDirect() ? dst : ByteBuffer.allocateDirect(length);
    byte[] err = new byte[ERR_CAP];
    Pointer p = Native.getDirectBufferPointer(target).share(target.position());
    if (shim.mlxshim_buffer_read(device, b.handle, srcOffset, p, length, err, err.length) != 0) {
      throw new IndexOutOfBoundsException("read from " + b + " failed: " + message(err));
    }
    if (target == dst) {
      dst.position(dst.position() + length);
    } else {
      dst.put(target);
    }
  }

  private static ByteBuffer direct(ByteBuffer src) {
    if (src.isDirect()) {
      return src;
    }
    ByteBuffer copy = ByteBuffer.allocateDirect(src.remaining()).order(ByteOrder.nativeOrder());
    copy.put(src.duplicate()).flip();
    return copy;
  }

  @Override
  public @Nullable ResidencySet residencySet() {
    return residency;
  }

  /** The residency set, or {@code null} where the OS lacks one or it was switched off. */
  public @Nullable MetalResidencySet metalResidencySet() {
    return residency;
  }

  /**
   * Commits staged residency changes, for callers that dispatch their own command buffers and
   * allocate outside a pool. Returns whether anything was committed.
   */
  public boolean flushResidency() {
    return residency != null && residency.flush();
  }

  /** Releases the residency set and the device. Pools and buffers on it must be closed first. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (residency != null) {
      residency.release();
    }
    shim.mlxshim_device_release(device);
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("Metal device " + name + " is closed");
    }
  }

  private MetalBuffer live(DeviceBuffer buffer) {
    MetalBuffer b = metal(buffer);
    b.requireLive();
    return b;
  }

  static MetalBuffer metal(DeviceBuffer buffer) {
    if (!(buffer instanceof MetalBuffer)) {
      throw new IllegalArgumentException(buffer + " is not a Metal buffer");
    }
    return (MetalBuffer) buffer;
  }

  static String message(byte[] nulTerminated) {
    int n = 0;
    while (n < nulTerminated.length && nulTerminated[n] != 0) {
      n++;
    }
    return n == 0 ? "(no message)" : new String(nulTerminated, 0, n, StandardCharsets.UTF_8);
  }

  @Override
  public String toString() {
    return "MetalDevice[" + name + ", " + storage + (residency != null ? ", residency" : "") + "]";
  }
}
