package dev.mlxarena;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import java.nio.ByteBuffer;
import org.jspecify.annotations.Nullable;

/**
 * A typed handle to device memory: a pooled buffer from a {@link Scope} or {@link BufferPool}, an
 * owned buffer from {@link #allocOwned} or {@link #adoptOwned}, or a {@link #sliceView slice view}
 * of either.
 *
 * <h2>Liveness</h2>
 * A handle is live until its memory is handed back: {@link #close()}, {@link BufferPool#release},
 * the close of its scope, {@link BufferPool#reset()} (for the pool's default scope), {@link
 * BufferPool#close()}, or, for owned buffers, their own close. After that, every method except
 * {@link #isValid()}, {@link #close()} and {@link #toString()} throws {@link StaleBufferException},
 * because the memory may already belong to a newer handle. Slice views die with the buffer they
 * were cut from.
 *
 * <p>The check is a single comparison of the handle's generation with the memory's, read with
 * acquire ordering (see {@code Block}), so it costs almost nothing. It is exact for any use ordered
 * after the hand-back (the usual bug: a handle kept past its token). A handle used concurrently
 * with its own hand-back on another thread is a data race the check cannot always see: the use
 * may still read or write the memory, which by then may belong to a newer handle.
 *
 * <h2>Memory safety</h2>
 * No sequence of calls, on one thread or across threads, makes this class read or write memory
 * that has gone back to the device: every access (typed get and put, bulk copies) pins the memory
 * while it runs, and memory goes back only when no pin is held; a use that finds it gone throws
 * {@link StaleBufferException}. Views from {@link #asByteBuffer()} hold their pin while they are
 * reachable (see there). What the pin does not promise is the handle's liveness for a racing use:
 * see above.
 *
 * <h2>Host access</h2>
 * Typed {@code get}/{@code put} methods index elements of the buffer's dtype and need host-visible
 * memory (on device-private storage they throw {@link UnsupportedOperationException}, saying so);
 * bulk {@code copyFrom}/{@code copyTo} work on every device (through explicit transfers where the
 * memory is device-private). Multi-byte values use the platform's native byte order.
 *
 * <p>A handle is used by one thread at a time; hand it over with the usual happens-before (a
 * queue, a join, a Reactor operator).
 */
public final class Buffer implements AutoCloseable {

  /** A slice of a buffer: same memory, same generation, its own range. */
  private record View(long byteOffset, long byteLength, long elementCount) {}

  final Block block;
  /** The generation this handle was issued at: live while the block's is the same. */
  final long generation;
  /** Who takes the memory back on {@link #close()}: the issuing scope, or the owned buffer. */
  final Recycler recycler;
  private final @Nullable View view;

  Buffer(Block block, long generation, Recycler recycler) {
    this(block, generation, recycler, null);
  }

  private Buffer(Block block, long generation, Recycler recycler, @Nullable View view) {
    this.block = block;
    this.generation = generation;
    this.recycler = recycler;
    this.view = view;
  }

  // ---------------------------------------------------------------- owned buffers

  /**
   * An exactly-sized, zero-filled buffer of {@code device}, owned by the caller and outside any
   * pool: the home for weights and a session's KV cache. It is added to the device's residency set
   * (and committed) if the device has one; {@link #close()} removes it and frees the memory.
   *
   * @param shape the dimensions; empty means {@code bytes / dtype.byteSize()} elements
   * @throws IllegalArgumentException for a non-positive size or a shape that needs more bytes
   * @throws BufferAllocationException if the device cannot provide the memory
   */
  public static Buffer allocOwned(Device device, long bytes, DType dtype, long... shape) {
    LeakDetection level = PoolOptions.Builder.leakProperty(); // before anything is allocated
    return owned(OwnedBuffer.fresh(device, bytes, dtype, shape), level);
  }

  /**
   * Takes ownership of {@code raw}, a raw allocation of {@code device}, and returns it as an owned
   * handle. The buffer is not zero-filled and not added to the residency set ({@link
   * BufferPool#registerExisting} does that); {@link #close()} frees it.
   *
   * <p>A raw allocation has one owner: memory a pool holds (a pooled handle's {@link
   * #deviceBuffer()}) or another owned buffer holds (adopting one buffer twice) is refused, and so
   * is a {@link dev.mlxarena.spi.TrackedDeviceBuffer} already freed. Raw buffers of other classes
   * are tracked by identity while owned; that a buffer of such a class was freed cannot be seen.
   *
   * @throws IllegalArgumentException if the shape needs more than the buffer's capacity, or if a
   *     pool or another owned buffer owns {@code raw}
   * @throws IllegalStateException if {@code raw} is a {@link dev.mlxarena.spi.TrackedDeviceBuffer}
   *     that was freed
   */
  public static Buffer adoptOwned(Device device, DeviceBuffer raw, DType dtype, long... shape) {
    LeakDetection level = PoolOptions.Builder.leakProperty();
    return owned(OwnedBuffer.adopt(device, raw, dtype, shape), level);
  }

  private static Buffer owned(OwnedBuffer owner, LeakDetection level) {
    Buffer handle = new Buffer(owner.block, owner.block.generationAcquire(), owner);
    owner.watchIfSampled(handle, handle.generation, level);
    return handle;
  }

  // ---------------------------------------------------------------- liveness

  /** Whether this handle may still be used: its memory has not been handed back. */
  public boolean isValid() {
    return block.generationAcquire() == generation;
  }

  private Block live() {
    Block b = block;
    if (b.generationAcquire() != generation) {
      throw b.staleException(generation);
    }
    return b;
  }

  // ---------------------------------------------------------------- metadata

  /** The element type. */
  public DType dtype() {
    return live().dtype;
  }

  /** The dimensions, as a fresh copy. A view is one-dimensional. */
  public long[] shape() {
    Block b = live();
    return view == null ? b.shapeCopy() : new long[] {view.elementCount()};
  }

  /** The number of elements: the product of the shape. */
  public long elementCount() {
    Block b = live();
    return view == null ? b.elementCount : view.elementCount();
  }

  /** The byte length that was asked for (a view: its element count times the element size). */
  public long byteLength() {
    Block b = live();
    return view == null ? b.byteLength : view.byteLength();
  }

  /**
   * The bytes usable from {@link #byteOffset()} to the end of the device buffer: the bucket
   * capacity for a pooled buffer, the exact size for an owned one.
   */
  public long capacity() {
    return live().capacity - offset();
  }

  /** The offset of this handle's first byte in the device buffer: 0 except for views. */
  public long byteOffset() {
    live();
    return offset();
  }

  /** {@link #byteOffset()} without the liveness check, for methods that made it already. */
  private long offset() {
    return view == null ? 0 : view.byteOffset();
  }

  /** The device the memory belongs to. */
  public Device device() {
    return live().device;
  }

  /** Whether this is a pooled buffer (as opposed to an owned one or a view). */
  public boolean isPooled() {
    return live().isPooled() && view == null;
  }

  /** Whether this is a slice view of another buffer. */
  public boolean isView() {
    live();
    return view != null;
  }

  /**
   * The native handle to bind to a kernel (with {@link #byteOffset()}): an {@code MTLBuffer} id on
   * Metal, a {@code CUdeviceptr} on CUDA, the address on the host device.
   */
  public long nativeHandle() {
    return live().raw.nativeHandle();
  }

  /** The raw device buffer, for backends and kernel launchers. */
  public DeviceBuffer deviceBuffer() {
    return live().raw;
  }

  /** Whether the host can access the memory directly (typed get/put, {@link #asByteBuffer()}). */
  public boolean isHostVisible() {
    return live().raw.isHostVisible();
  }

  // ---------------------------------------------------------------- views

  /**
   * A view of {@code elements} elements starting {@code byteOffset} bytes into this buffer, sharing
   * its memory and its life: it becomes stale with this buffer, and closing it does nothing.
   *
   * @throws IllegalArgumentException if the offset is not a multiple of the element size
   * @throws IndexOutOfBoundsException if the range does not fit this buffer's byte length
   */
  public Buffer sliceView(long byteOffset, long elements) {
    Block b = live();
    long length = HostAccess.sliceLength(b, byteOffset, elements, byteLength());
    return new Buffer(b, generation, recycler, new View(offset() + byteOffset, length, elements));
  }

  // ---------------------------------------------------------------- host views

  /**
   * A native-order {@link ByteBuffer} over this handle's byte length, reading and writing the
   * memory in place: checked once, when it is made, then as fast as any direct buffer.
   *
   * <p>It never reaches freed memory: the memory behind a view (or any buffer made from it:
   * slices, duplicates, {@code asFloatBuffer()}) goes back to the device only once that view is
   * unreachable, even if the handle's pool or owner gave it up earlier (after a collection, later
   * than the owner's call). It does not follow the handle's life: kept past the hand-back, it reads
   * and writes whatever the memory holds next, perhaps a buffer issued to someone else since. Use a
   * view only while its handle is live; where it could outlive the handle, prefer the bulk copies
   * ({@code copyTo}, {@code copyFrom}) and typed access, which check the handle on every call.
   *
   * @throws StaleBufferException if the handle is stale
   * @throws UnsupportedOperationException if the memory is not host-visible
   * @throws IllegalArgumentException if the length exceeds what one ByteBuffer can cover
   */
  public ByteBuffer asByteBuffer() {
    return asByteBuffer(0, byteLength());
  }

  /**
   * A native-order view of {@code length} bytes from {@code byteOffset} within this handle, as
   * {@link #asByteBuffer()} describes.
   */
  public ByteBuffer asByteBuffer(long byteOffset, long length) {
    Block b = live();
    HostAccess.checkRange(b, byteOffset, length, capacity());
    return HostAccess.userView(b, offset() + byteOffset, length);
  }

  // ---------------------------------------------------------------- typed element access

  /** The byte offset of element {@code index}, checked for this handle's dtype and range. */
  private long at(long index, DType expected) {
    Block b = live();
    return offset() + HostAccess.element(b, view == null ? b.elementCount : view.elementCount(),
        index, expected);
  }

  /** Reads element {@code index} of an F32 buffer. */
  public float getF32(long index) {
    return Float.intBitsToFloat(HostAccess.getInt(block, at(index, DType.F32)));
  }

  /** Writes element {@code index} of an F32 buffer. */
  public void putF32(long index, float value) {
    HostAccess.putInt(block, at(index, DType.F32), Float.floatToRawIntBits(value));
  }

  /** Reads element {@code index} of an F64 buffer. */
  public double getF64(long index) {
    return Double.longBitsToDouble(HostAccess.getLong(block, at(index, DType.F64)));
  }

  /** Writes element {@code index} of an F64 buffer. */
  public void putF64(long index, double value) {
    HostAccess.putLong(block, at(index, DType.F64), Double.doubleToRawLongBits(value));
  }

  /** Reads element {@code index} of an F16 buffer, widened to float. */
  public float getF16(long index) {
    return Halves.f16ToFloat(HostAccess.getShort(block, at(index, DType.F16)));
  }

  /** Writes element {@code index} of an F16 buffer, rounding to nearest even. */
  public void putF16(long index, float value) {
    HostAccess.putShort(block, at(index, DType.F16), Halves.floatToF16(value));
  }

  /** Reads element {@code index} of a BF16 buffer, widened to float. */
  public float getBF16(long index) {
    return Halves.bf16ToFloat(HostAccess.getShort(block, at(index, DType.BF16)));
  }

  /** Writes element {@code index} of a BF16 buffer, rounding to nearest even. */
  public void putBF16(long index, float value) {
    HostAccess.putShort(block, at(index, DType.BF16), Halves.floatToBf16(value));
  }

  /** Reads element {@code index} of an I8 buffer. */
  public byte getI8(long index) {
    return HostAccess.getByte(block, at(index, DType.I8));
  }

  /** Writes element {@code index} of an I8 buffer. */
  public void putI8(long index, byte value) {
    HostAccess.putByte(block, at(index, DType.I8), value);
  }

  /** Reads element {@code index} of a U8 buffer, from 0 to 255. */
  public int getU8(long index) {
    return HostAccess.getByte(block, at(index, DType.U8)) & 0xff;
  }

  /**
   * Writes element {@code index} of a U8 buffer.
   *
   * @throws IllegalArgumentException if {@code value} is outside 0 to 255
   */
  public void putU8(long index, int value) {
    HostAccess.putByte(block, at(index, DType.U8), (byte) HostAccess.unsigned(value, DType.U8));
  }

  /** Reads element {@code index} of a U16 buffer, from 0 to 65535. */
  public int getU16(long index) {
    return HostAccess.getShort(block, at(index, DType.U16)) & 0xffff;
  }

  /**
   * Writes element {@code index} of a U16 buffer.
   *
   * @throws IllegalArgumentException if {@code value} is outside 0 to 65535
   */
  public void putU16(long index, int value) {
    HostAccess.putShort(block, at(index, DType.U16), (short) HostAccess.unsigned(value, DType.U16));
  }

  /** Reads element {@code index} of an I32 buffer. */
  public int getI32(long index) {
    return HostAccess.getInt(block, at(index, DType.I32));
  }

  /** Writes element {@code index} of an I32 buffer. */
  public void putI32(long index, int value) {
    HostAccess.putInt(block, at(index, DType.I32), value);
  }

  /** Reads element {@code index} of a U32 buffer, from 0 to 2^32 - 1. */
  public long getU32(long index) {
    return HostAccess.getInt(block, at(index, DType.U32)) & 0xffffffffL;
  }

  /**
   * Writes element {@code index} of a U32 buffer.
   *
   * @throws IllegalArgumentException if {@code value} is outside 0 to 2^32 - 1
   */
  public void putU32(long index, long value) {
    HostAccess.putInt(block, at(index, DType.U32), (int) HostAccess.unsigned(value, DType.U32));
  }

  /** Reads element {@code index} of an I64 buffer. */
  public long getI64(long index) {
    return HostAccess.getLong(block, at(index, DType.I64));
  }

  /** Writes element {@code index} of an I64 buffer. */
  public void putI64(long index, long value) {
    HostAccess.putLong(block, at(index, DType.I64), value);
  }

  // ---------------------------------------------------------------- bulk copies

  /** Copies {@code src} into the first {@code src.length} F32 elements. */
  public Buffer copyFrom(float[] src) {
    return write(bulk(src.length, DType.F32), w -> w.asFloatBuffer().put(src));
  }

  /** Copies the first {@code dst.length} F32 elements into {@code dst}. */
  public void copyTo(float[] dst) {
    read(bulk(dst.length, DType.F32), r -> r.asFloatBuffer().get(dst));
  }

  /** Copies {@code src} into the first {@code src.length} F64 elements. */
  public Buffer copyFrom(double[] src) {
    return write(bulk(src.length, DType.F64), w -> w.asDoubleBuffer().put(src));
  }

  /** Copies the first {@code dst.length} F64 elements into {@code dst}. */
  public void copyTo(double[] dst) {
    read(bulk(dst.length, DType.F64), r -> r.asDoubleBuffer().get(dst));
  }

  /** Copies {@code src} into the first {@code src.length} elements of an I32 or U32 buffer. */
  public Buffer copyFrom(int[] src) {
    return write(bulk(src.length, DType.I32, DType.U32), w -> w.asIntBuffer().put(src));
  }

  /** Copies the first {@code dst.length} elements of an I32 or U32 buffer into {@code dst}. */
  public void copyTo(int[] dst) {
    read(bulk(dst.length, DType.I32, DType.U32), r -> r.asIntBuffer().get(dst));
  }

  /** Copies {@code src} into the first {@code src.length} elements of an I64 buffer. */
  public Buffer copyFrom(long[] src) {
    return write(bulk(src.length, DType.I64), w -> w.asLongBuffer().put(src));
  }

  /** Copies the first {@code dst.length} elements of an I64 buffer into {@code dst}. */
  public void copyTo(long[] dst) {
    read(bulk(dst.length, DType.I64), r -> r.asLongBuffer().get(dst));
  }

  /**
   * Copies raw 16-bit values (F16 or BF16 bit patterns, or U16) into the first {@code
   * src.length} elements of a buffer of one of those types.
   */
  public Buffer copyFrom(short[] src) {
    return write(bulk(src.length, DType.F16, DType.BF16, DType.U16), w -> w.asShortBuffer().put(src));
  }

  /** Copies the first {@code dst.length} 16-bit values of an F16, BF16 or U16 buffer. */
  public void copyTo(short[] dst) {
    read(bulk(dst.length, DType.F16, DType.BF16, DType.U16), r -> r.asShortBuffer().get(dst));
  }

  /** Copies raw bytes into the start of the buffer, whatever its dtype. */
  public Buffer copyFrom(byte[] src) {
    return write(rawBytes(0, src.length), w -> w.put(src));
  }

  /** Copies the first {@code dst.length} raw bytes of the buffer, whatever its dtype. */
  public void copyTo(byte[] dst) {
    read(rawBytes(0, dst.length), r -> r.get(dst));
  }

  /** Copies {@code src.remaining()} bytes into this buffer at {@code byteOffset}. */
  public Buffer copyFrom(ByteBuffer src, long byteOffset) {
    rawBytes(byteOffset, src.remaining());
    HostAccess.deviceWrite(block, offset() + byteOffset, src);
    return this;
  }

  /** Copies {@code dst.remaining()} bytes of this buffer from {@code byteOffset} into {@code dst}. */
  public void copyTo(ByteBuffer dst, long byteOffset) {
    rawBytes(byteOffset, dst.remaining());
    HostAccess.deviceRead(block, offset() + byteOffset, dst);
  }

  private long bulk(int elements, DType... accepted) {
    Block b = live();
    long count = view == null ? b.elementCount : view.elementCount();
    return rawBytes(0, HostAccess.bulkBytes(b, count, elements, accepted));
  }

  private long rawBytes(long byteOffset, long length) {
    return HostAccess.copyBytes(live(), byteOffset, length, byteLength());
  }

  /** Bulk copies start at this handle's first byte. */
  private Buffer write(long length, HostAccess.Fill fill) {
    HostAccess.write(block, offset(), length, fill);
    return this;
  }

  private void read(long length, HostAccess.Drain drain) {
    HostAccess.read(block, offset(), length, drain);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Hands the memory back to its owner: a pooled buffer returns to its pool's free list at once
   * (the per-buffer release path), an owned buffer is removed from the residency set and freed.
   * Closing a stale handle or a view does nothing, so try-with-resources is always safe.
   */
  @Override
  public void close() {
    if (view != null || !isValid()) {
      return;
    }
    recycler.handBack(block, generation);
  }

  @Override
  public String toString() {
    Block b = block;
    if (!isValid()) {
      return "Buffer[stale, " + b.capacity + " B device buffer, " + b.deathReason() + "]";
    }
    String kind = view != null ? "view at +" + view.byteOffset() : b.isPooled() ? "pooled" : "owned";
    String range =
        view != null
            ? b.dtype + " [" + view.elementCount() + "], " + view.byteLength() + " B"
            : b.describe();
    return "Buffer[" + range + ", " + kind + ", " + b.device.name() + "]";
  }
}
