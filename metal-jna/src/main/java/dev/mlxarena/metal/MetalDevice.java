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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
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
 * every OS: the simulation refuses every breach of the rules {@code mlxshim.h} lists.
 *
 * <p>Residency sets are used where the OS and GPU allow them (macOS 15 and a GPU of {@code
 * MTLGPUFamilyMetal3}); elsewhere, or when a set cannot be created, the device runs without one and
 * says so once per process in the log. They can be switched off with the environment variable
 * {@code MLXARENA_NO_RESIDENCY=1} or the system property {@code mlxarena.noResidency=true}.
 *
 * <p>Thread-safe. Every call that reaches the native device holds the read side of a lifecycle
 * lock; {@link #close()} takes the write side, so it waits for calls in flight, runs once, and
 * every later call throws {@link IllegalStateException} instead of reaching a released device.
 * {@link #free} alone works after close: releasing a buffer does not touch its device.
 */
public final class MetalDevice implements Device {
  private static final Logger LOG = System.getLogger(MetalDevice.class.getName());
  static final int ERR_CAP = 512;
  /** Whether this process has logged that it runs without residency sets. */
  private static final AtomicBoolean NO_RESIDENCY_LOGGED = new AtomicBoolean();

  private final ShimLibrary shim;
  private final Pointer device;
  private final String name;
  private final StorageMode storage;
  private final Transfers transfers;
  private final @Nullable MetalResidencySet residency;
  private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
  /** Guarded by {@link #lifecycle}: read under either side, written under the write side. */
  private boolean closed;

  private MetalDevice(ShimLibrary shim, Pointer device, StorageMode storage, boolean residency) {
    this.shim = shim;
    this.device = device;
    this.storage = storage;
    this.transfers = new Transfers(shim, device);
    byte[] buf = new byte[256];
    byte[] err = new byte[ERR_CAP];
    if (shim.mlxshim_device_name(device, buf, buf.length, err, err.length) < 0) {
      throw new DeviceUnavailableException("cannot name the Metal device: " + message(err));
    }
    this.name = message(buf);
    this.residency = residency ? createResidencySet() : null;
  }

  /**
   * Opens the system's Metal device with shared storage.
   *
   * @throws DeviceUnavailableException off macOS, or when no Metal device or shim is found
   */
  public static MetalDevice open() {
    return openWith(Shims.metal(), StorageMode.SHARED, residencyEnabled());
  }

  /** Opens the device of {@code shim} with shared storage and default residency. */
  public static MetalDevice openWith(ShimLibrary shim) {
    return openWith(shim, StorageMode.SHARED, residencyEnabled());
  }

  /**
   * Opens the device of {@code shim}.
   *
   * @param storage where buffers live
   * @param residency whether to use a residency set where the OS and GPU support one
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
      shim.mlxshim_device_release(d, err, err.length);
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
    byte[] err = new byte[ERR_CAP];
    int supported = shim.mlxshim_residency_supported(device, err, err.length);
    if (supported < 0) {
      throw new DeviceUnavailableException(name + ": cannot ask for residency support: " + message(err));
    }
    if (supported == 0) {
      noteNoResidency(Level.INFO, "residency sets need macOS 15 and a Metal3 GPU");
      return null;
    }
    Pointer set = shim.mlxshim_residency_new(device, 256, "mlx-arena", err, err.length);
    if (set == null) {
      noteNoResidency(Level.WARNING, "the residency set could not be created: " + message(err));
      return null;
    }
    return new MetalResidencySet(shim, set);
  }

  /** Logs once per process, at {@code level}, that devices run without residency sets; later at DEBUG. */
  private void noteNoResidency(Level level, String why) {
    Level once = NO_RESIDENCY_LOGGED.compareAndSet(false, true) ? level : Level.DEBUG;
    LOG.log(once, "{0}: {1}; running without a residency set", name, why);
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
    Lock open = enter("read the working set size");
    try {
      byte[] err = new byte[ERR_CAP];
      long bytes = shim.mlxshim_device_recommended_working_set(device, err, err.length);
      if (bytes == 0) {
        throw new IllegalStateException(name + ": no recommended working set size: " + message(err));
      }
      return bytes;
    } finally {
      open.unlock();
    }
  }

  /** The {@code id<MTLDevice>}, borrowed, for building pipelines and queues on it. */
  public long nativeHandle() {
    Lock open = enter("hand out its native handle");
    try {
      byte[] err = new byte[ERR_CAP];
      Pointer p = shim.mlxshim_device_native(device, err, err.length);
      if (p == null) {
        throw new IllegalStateException(name + ": no native handle: " + message(err));
      }
      return Pointer.nativeValue(p);
    } finally {
      open.unlock();
    }
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
    TrackedDeviceBuffer.requirePositive(bytes);
    Lock open = enter("allocate");
    try {
      byte[] err = new byte[ERR_CAP];
      Pointer b = shim.mlxshim_buffer_new(device, bytes, storage.code, err, err.length);
      if (b == null) {
        throw new BufferAllocationException(
            name + " could not allocate " + bytes + " bytes: " + message(err), bytes);
      }
      long allocated = shim.mlxshim_buffer_length(b);
      if (storage == StorageMode.PRIVATE && allocated < Transfers.alignUp(bytes)) {
        shim.mlxshim_buffer_release(b, err, err.length);
        throw new IllegalStateException(
            name + ": the shim allocated " + allocated + " bytes for " + bytes
                + " of private storage; it must round up to whole 4-byte words");
      }
      Pointer contents = shim.mlxshim_buffer_contents(b);
      return new MetalBuffer(
          b, contents == null ? 0 : Pointer.nativeValue(contents), bytes, allocated, storage);
    } finally {
      open.unlock();
    }
  }

  /**
   * Frees a buffer of this device. Works after {@link #close()} too.
   *
   * @throws IllegalStateException if it was freed already, or if it is still a member of the
   *     residency set, staged or committed (remove it and commit first; it stays allocated)
   */
  @Override
  public void free(DeviceBuffer buffer) {
    MetalBuffer b = metal(buffer);
    b.markFreed();
    byte[] err = new byte[ERR_CAP];
    if (shim.mlxshim_buffer_release(b.handle, err, err.length) != 0) {
      throw new IllegalStateException("cannot free " + b + ": " + message(err));
    }
  }

  @Override
  public void fillZero(DeviceBuffer buffer, long offset, long length) {
    MetalBuffer b = live(buffer);
    checkRange(b, offset, length, "zero-fill");
    Lock open = enter("zero-fill");
    try {
      transfers.fillZero(b, offset, length);
    } finally {
      open.unlock();
    }
  }

  @Override
  public void write(DeviceBuffer dst, long dstOffset, ByteBuffer src) {
    MetalBuffer b = live(dst);
    int length = src.remaining();
    checkRange(b, dstOffset, length, "write");
    ByteBuffer direct = direct(src);
    Lock open = enter("write");
    try {
      transfers.write(b, dstOffset, Native.getDirectBufferPointer(direct).share(direct.position()), length);
    } finally {
      open.unlock();
    }
    src.position(src.position() + length);
  }

  @Override
  public void read(DeviceBuffer src, long srcOffset, ByteBuffer dst) {
    MetalBuffer b = live(src);
    int length = dst.remaining();
    checkRange(b, srcOffset, length, "read");
    ByteBuffer target = dst.isDirect() ? dst : ByteBuffer.allocateDirect(length);
    Lock open = enter("read");
    try {
      transfers.read(b, srcOffset, Native.getDirectBufferPointer(target).share(target.position()), length);
    } finally {
      open.unlock();
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

  private static void checkRange(MetalBuffer b, long offset, long length, String what) {
    if (offset < 0 || length < 0 || offset > b.capacity() - length) {
      throw new IndexOutOfBoundsException(
          what + " of [" + offset + ", +" + length + ") is outside " + b + " of " + b.capacity() + " bytes");
    }
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

  /**
   * Releases the residency set (committing what is staged first) and the device. Pools and
   * buffers on it must be closed first; a second close does nothing.
   *
   * @throws IllegalStateException if the shim refuses, with its reason
   */
  @Override
  public void close() {
    Lock exclusive = lifecycle.writeLock();
    exclusive.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      RuntimeException failure = null;
      if (residency != null) {
        try {
          residency.release();
        } catch (RuntimeException e) {
          failure = e;
        }
      }
      byte[] err = new byte[ERR_CAP];
      if (shim.mlxshim_device_release(device, err, err.length) != 0) {
        IllegalStateException e =
            new IllegalStateException("releasing Metal device " + name + " failed: " + message(err));
        if (failure != null) {
          e.addSuppressed(failure);
        }
        failure = e;
      }
      if (failure != null) {
        throw failure;
      }
    } finally {
      exclusive.unlock();
    }
  }

  /** Takes the read side of the lifecycle lock, or throws if the device is closed. */
  private Lock enter(String what) {
    Lock open = lifecycle.readLock();
    open.lock();
    if (closed) {
      open.unlock();
      throw new IllegalStateException("Metal device " + name + " is closed: cannot " + what);
    }
    return open;
  }

  private MetalBuffer live(DeviceBuffer buffer) {
    MetalBuffer b = metal(buffer);
    b.requireLive();
    return b;
  }

  static MetalBuffer metal(DeviceBuffer buffer) {
    if (!(buffer instanceof MetalBuffer m)) {
      throw new IllegalArgumentException(buffer + " is not a Metal buffer");
    }
    return m;
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
