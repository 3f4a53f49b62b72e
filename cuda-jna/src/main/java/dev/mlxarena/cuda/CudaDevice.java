package dev.mlxarena.cuda;

import static dev.mlxarena.cuda.CudaException.check;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import dev.mlxarena.BufferAllocationException;
import dev.mlxarena.spi.DeviceStream;
import dev.mlxarena.DeviceUnavailableException;
import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.ResidencySet;
import dev.mlxarena.spi.TrackedDeviceBuffer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * An NVIDIA GPU as a {@link Device}, through the CUDA driver API.
 *
 * <pre>{@code
 * try (CudaDevice gpu = CudaDevice.open(0);                      // device memory
 *      BufferPool pool = BufferPool.create(gpu)) { ... }
 * try (CudaDevice gpu = CudaDevice.open(0, CudaStorage.SHARED)) { ... }   // pinned, host-visible
 * }</pre>
 *
 * <p>The device works in its primary context, which it makes current on whichever thread calls
 * (Reactor moves work between threads). Fresh allocations are zero-filled on the GPU with {@code
 * cuMemsetD8}, not through the host. There is no residency set. Every failed driver call becomes a
 * {@link CudaException} with the call, the error name and the driver's message; out of memory
 * becomes {@link BufferAllocationException}. Managed memory is never used. Thread-safe.
 */
public final class CudaDevice implements Device {
  private final int ordinal;
  private final int device;
  private final Pointer context;
  private final CudaStorage storage;
  private final String name;
  private final long totalMemory;
  private final int computeCapability;
  private final int multiprocessors;
  private final AtomicLong live = new AtomicLong();
  private volatile boolean closed;

  private CudaDevice(int ordinal, int device, Pointer context, CudaStorage storage) {
    this.ordinal = ordinal;
    this.device = device;
    this.context = context;
    this.storage = storage;
    byte[] buf = new byte[256];
    check(CudaDriver.cuDeviceGetName(buf, buf.length, device), "cuDeviceGetName");
    this.name = Native.toString(buf, StandardCharsets.UTF_8.name());
    LongByReference total = new LongByReference();
    check(CudaDriver.cuDeviceTotalMem_v2(total, device), "cuDeviceTotalMem_v2");
    this.totalMemory = total.getValue();
    this.computeCapability = 10 * attribute(CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
        + attribute(CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    this.multiprocessors = attribute(CudaDriver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  }

  private int attribute(int attribute) {
    IntByReference value = new IntByReference();
    check(CudaDriver.cuDeviceGetAttribute(value, attribute, device), "cuDeviceGetAttribute");
    return value.getValue();
  }

  /** GPU {@code ordinal} with {@link CudaStorage#DEVICE} memory. */
  public static CudaDevice open(int ordinal) {
    return open(ordinal, CudaStorage.DEVICE);
  }

  /**
   * GPU {@code ordinal} with the given storage.
   *
   * @throws DeviceUnavailableException if the driver library is missing, no GPU is present, or
   *     {@code ordinal} is out of range; the message says which
   */
  public static CudaDevice open(int ordinal, CudaStorage storage) {
    Objects.requireNonNull(storage, "storage");
    int count = deviceCount();
    if (ordinal < 0 || ordinal >= count) {
      throw new DeviceUnavailableException(
          "CUDA device " + ordinal + " does not exist: this machine has " + count + " GPU"
              + (count == 1 ? "" : "s"));
    }
    IntByReference dev = new IntByReference();
    check(CudaDriver.cuDeviceGet(dev, ordinal), "cuDeviceGet");
    PointerByReference ctx = new PointerByReference();
    check(CudaDriver.cuDevicePrimaryCtxRetain(ctx, dev.getValue()), "cuDevicePrimaryCtxRetain");
    try {
      return new CudaDevice(ordinal, dev.getValue(), ctx.getValue(), storage);
    } catch (RuntimeException e) {
      CudaDriver.cuDevicePrimaryCtxRelease_v2(dev.getValue());
      throw e;
    }
  }

  /**
   * The number of CUDA GPUs.
   *
   * @throws DeviceUnavailableException if the driver cannot be loaded or initialised, or there is
   *     no GPU
   */
  public static int deviceCount() {
    String why = CudaDriver.load();
    if (why != null) {
      throw new DeviceUnavailableException(
          "CUDA needs an NVIDIA driver: " + why + ". Install the driver (libcuda comes with it), or"
              + " use the host device.");
    }
    int rc = CudaDriver.cuInit(0);
    if (rc == CudaDriver.CUDA_ERROR_NO_DEVICE) {
      throw new DeviceUnavailableException("the CUDA driver is installed but found no GPU");
    }
    if (rc != CudaDriver.CUDA_SUCCESS) {
      throw new DeviceUnavailableException(
          "cuInit failed: " + CudaDriver.errorName(rc) + ": " + CudaDriver.errorString(rc));
    }
    IntByReference n = new IntByReference();
    check(CudaDriver.cuDeviceGetCount(n), "cuDeviceGetCount");
    if (n.getValue() == 0) {
      throw new DeviceUnavailableException("the CUDA driver is installed but found no GPU");
    }
    return n.getValue();
  }

  /** The driver's version, as {@code cuDriverGetVersion} gives it (12040 for 12.4). */
  public static int driverVersion() {
    deviceCount();
    IntByReference v = new IntByReference();
    check(CudaDriver.cuDriverGetVersion(v), "cuDriverGetVersion");
    return v.getValue();
  }

  /**
   * Makes this device's primary context current on the calling thread. Kernel launches call it
   * each time, so it remembers per thread which device it last made current there and calls the
   * driver only when that changes: code that switches the thread's context behind this library's
   * back must switch it back.
   */
  void makeCurrent() {
    if (closed) {
      throw new IllegalStateException("CUDA device " + ordinal + " (" + name + ") is closed");
    }
    @Nullable CudaDevice[] current = CURRENT.get();
    if (current[0] != this) {
      check(CudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
      current[0] = this;
    }
  }

  /**
   * Forgets which device this library made current on the calling thread, so that the next call
   * sets it again: for after a library that may switch the thread's context (NCCL's communicator
   * set-up sets each device it initialises).
   */
  static void forgetCurrent() {
    CURRENT.get()[0] = null;
  }

  /** Per thread, the device whose context this library last made current there. */
  private static final ThreadLocal<@Nullable CudaDevice[]> CURRENT =
      ThreadLocal.withInitial(() -> new CudaDevice[1]);

  @Override
  public String name() {
    return name;
  }

  /** The driver's {@code CUdevice} handle. */
  int deviceHandle() {
    return device;
  }

  /** The GPU's ordinal. */
  public int ordinal() {
    return ordinal;
  }

  /** The storage of this device's buffers. */
  public CudaStorage storage() {
    return storage;
  }

  /**
   * The compute capability as one number, major times ten plus minor: 90 for an H100 or H200
   * ({@code sm_90}), 80 for an A100, 120 for {@code sm_120}.
   */
  public int computeCapability() {
    return computeCapability;
  }

  /**
   * The number of streaming multiprocessors (132 on an H100 SXM or H200): a launch of fewer blocks
   * than this leaves some of them idle.
   */
  public int multiprocessorCount() {
    return multiprocessors;
  }

  /** The GPU's total memory in bytes. */
  public long totalMemory() {
    return totalMemory;
  }

  /** The GPU's free memory in bytes, from {@code cuMemGetInfo}. */
  public long freeMemory() {
    makeCurrent();
    LongByReference free = new LongByReference();
    LongByReference total = new LongByReference();
    check(CudaDriver.cuMemGetInfo_v2(free, total), "cuMemGetInfo_v2");
    return free.getValue();
  }

  /** Allocations made by this device and not yet freed. */
  public long liveAllocations() {
    return live.get();
  }

  @Override
  public DeviceBuffer allocate(long bytes) {
    TrackedDeviceBuffer.requirePositive(bytes);
    makeCurrent();
    CudaBuffer b;
    if (storage == CudaStorage.DEVICE) {
      LongByReference dptr = new LongByReference();
      allocCheck(CudaDriver.cuMemAlloc_v2(dptr, bytes), "cuMemAlloc_v2", bytes);
      b = new CudaBuffer(this, dptr.getValue(), null, bytes);
    } else {
      PointerByReference host = new PointerByReference();
      allocCheck(
          CudaDriver.cuMemHostAlloc(
              host, bytes, CudaDriver.CU_MEMHOSTALLOC_DEVICEMAP | CudaDriver.CU_MEMHOSTALLOC_PORTABLE),
          "cuMemHostAlloc",
          bytes);
      LongByReference dptr = new LongByReference();
      int rc = CudaDriver.cuMemHostGetDevicePointer_v2(dptr, host.getValue(), 0);
      if (rc != CudaDriver.CUDA_SUCCESS) {
        CudaDriver.cuMemFreeHost(host.getValue());
        check(rc, "cuMemHostGetDevicePointer_v2");
      }
      b = new CudaBuffer(this, dptr.getValue(), host.getValue(), bytes);
    }
    live.incrementAndGet();
    return b;
  }

  private void allocCheck(int rc, String call, long bytes) {
    if (rc == CudaDriver.CUDA_ERROR_OUT_OF_MEMORY) {
      throw new BufferAllocationException(
          name + " is out of memory for " + bytes + " bytes (" + call + ")", bytes,
          new CudaException(call, rc, bytes + " bytes"));
    }
    check(rc, call);
  }

  @Override
  public void free(DeviceBuffer buffer) {
    CudaBuffer b = own(buffer);
    b.markFreed();
    makeCurrent();
    if (b.host == null) {
      check(CudaDriver.cuMemFree_v2(b.devicePointer), "cuMemFree_v2");
    } else {
      check(CudaDriver.cuMemFreeHost(b.host), "cuMemFreeHost");
    }
    live.decrementAndGet();
  }

  @Override
  public void fillZero(DeviceBuffer buffer, long offset, long length) {
    CudaBuffer b = live(buffer);
    range(b, offset, length);
    makeCurrent();
    check(CudaDriver.cuMemsetD8_v2(b.devicePointer + offset, (byte) 0, length), "cuMemsetD8_v2");
    // The memset is ordered on the null stream before later GPU work; the host must wait for it
    // before it may read the memory, or hand it out as zeroed.
    check(CudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
  }

  /**
   * Fills with {@code cuMemsetD32Async} enqueued on {@code stream}, a {@link CudaStream} of this
   * device, without waiting; without a stream, on the default stream, waiting for it. The pattern's
   * phase follows {@code offset}: bytes before the first 4-byte boundary and after the last one are
   * set one by one ({@code cuMemsetD8Async}), and the aligned middle with the pattern rotated to
   * match.
   *
   * @throws IllegalArgumentException if {@code stream} is not a {@link CudaStream} of this device
   */
  @Override
  public void fillPattern(
      DeviceBuffer buffer, long offset, long length, int pattern, @Nullable DeviceStream stream) {
    CudaBuffer b = live(buffer);
    range(b, offset, length);
    CudaStream s = stream == null ? null : CudaStream.of(stream, this);
    if (length == 0) {
      return;
    }
    makeCurrent();
    long handle = s == null ? 0 : s.handle();
    long dst = b.devicePointer + offset;
    long head = Math.min(length, (4 - (dst & 3)) & 3);
    for (int k = 0; k < head; k++) {
      setByte(dst + k, pattern >>> (8 * k), handle);
    }
    long words = (length - head) >>> 2;
    if (words > 0) {
      // Byte j of the middle is byte (head + j) mod 4 of the pattern, in native (little-endian) order.
      int rotated = Integer.rotateRight(pattern, (int) (8 * head));
      check(CudaDriver.cuMemsetD32Async(dst + head, rotated, words, handle), "cuMemsetD32Async");
    }
    for (long k = head + 4 * words; k < length; k++) {
      setByte(dst + k, pattern >>> (8 * (k & 3)), handle);
    }
    if (s == null) {
      check(CudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
    }
  }

  private static void setByte(long dst, int value, long stream) {
    check(CudaDriver.cuMemsetD8Async(dst, (byte) value, 1, stream), "cuMemsetD8Async");
  }

  @Override
  public void write(DeviceBuffer dst, long dstOffset, ByteBuffer src) {
    CudaBuffer b = live(dst);
    if (b.host != null) {
      Device.super.write(dst, dstOffset, src);
      return;
    }
    int length = src.remaining();
    range(b, dstOffset, length);
    ByteBuffer direct = src.isDirect() ? src : ByteBuffer.allocateDirect(length).put(src.duplicate()).flip();
    makeCurrent();
    Pointer p = Native.getDirectBufferPointer(direct).share(direct.position());
    check(CudaDriver.cuMemcpyHtoD_v2(b.devicePointer + dstOffset, p, length), "cuMemcpyHtoD_v2");
    src.position(src.position() + length);
  }

  @Override
  public void read(DeviceBuffer src, long srcOffset, ByteBuffer dst) {
    CudaBuffer b = live(src);
    if (b.host != null) {
      Device.super.read(src, srcOffset, dst);
      return;
    }
    int length = dst.remaining();
    range(b, srcOffset, length);
    ByteBuffer target = dst.isDirect() ? dst : ByteBuffer.allocateDirect(length);
    makeCurrent();
    Pointer p = Native.getDirectBufferPointer(target).share(target.position());
    check(CudaDriver.cuMemcpyDtoH_v2(p, b.devicePointer + srcOffset, length), "cuMemcpyDtoH_v2");
    if (target == dst) {
      dst.position(dst.position() + length);
    } else {
      dst.put(target);
    }
  }

  /**
   * A fence at the current end of the device's default (null) stream: it completes once every
   * kernel and copy queued there so far has finished. Hand it to {@code scope.closeAfter}.
   */
  public CudaFence recordFence() {
    return recordFence(Pointer.NULL);
  }

  /**
   * A fence at the current end of {@code stream} (a {@code CUstream}, as your kernel launcher
   * holds it; {@code Pointer.NULL} for the default stream).
   */
  public CudaFence recordFence(@Nullable Pointer stream) {
    makeCurrent();
    PointerByReference ev = new PointerByReference();
    check(CudaDriver.cuEventCreate(ev, CudaDriver.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
    int rc = CudaDriver.cuEventRecord(ev.getValue(), stream);
    if (rc != CudaDriver.CUDA_SUCCESS) {
      CudaDriver.cuEventDestroy_v2(ev.getValue());
      check(rc, "cuEventRecord");
    }
    return new CudaFence(this, ev.getValue());
  }

  @Override
  public @Nullable ResidencySet residencySet() {
    return null;
  }

  /** Releases the primary context. Pools and buffers on this device must be closed first. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    @Nullable CudaDevice[] current = CURRENT.get();
    if (current[0] == this) {
      current[0] = null;
    }
    check(CudaDriver.cuDevicePrimaryCtxRelease_v2(device), "cuDevicePrimaryCtxRelease_v2");
  }

  private static void range(CudaBuffer b, long offset, long length) {
    if (offset < 0 || length < 0 || offset > b.capacity() - length) {
      throw new IndexOutOfBoundsException(
          "range [" + offset + ", +" + length + ") is outside the " + b.capacity() + " bytes of " + b);
    }
  }

  private CudaBuffer own(DeviceBuffer buffer) {
    if (!(buffer instanceof CudaBuffer) || ((CudaBuffer) buffer).owner != this) {
      throw new IllegalArgumentException(buffer + " was not allocated by " + this);
    }
    return (CudaBuffer) buffer;
  }

  private CudaBuffer live(DeviceBuffer buffer) {
    CudaBuffer b = own(buffer);
    b.requireLive();
    return b;
  }

  @Override
  public String toString() {
    return "CudaDevice[" + ordinal + ": " + name + ", " + storage + "]";
  }
}
