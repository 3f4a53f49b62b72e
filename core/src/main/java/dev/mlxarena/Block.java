package dev.mlxarena;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * The pool's record of one device buffer, and of the handle currently issued over it.
 *
 * <h2>Generations</h2>
 * Every time the memory is handed back (release, scope close, reset, clear, pool close, free) the
 * generation is incremented. A {@link Buffer} remembers the generation it was issued at and is live
 * exactly while the two are equal, so every handle issued before a recycle becomes stale at once,
 * without the pool having to find it. Generations are 64-bit: they never wrap in practice, so a
 * stale handle can never become valid again.
 *
 * <h2>Lease metadata</h2>
 * A live block has exactly one live handle, so the handle's dtype, length and shape live here
 * rather than in the handle (which stays small: the hot path allocates only the handle). They are
 * meaningful only while the generation matches; stale handles check first and never read them.
 *
 * <p>All mutable fields except {@link #generation} are guarded by the owning pool's lock (or, for
 * owned buffers, by the block itself); {@code generation} is volatile so that a handle's liveness
 * check needs no lock.
 */
final class Block {
  static final int FREE = 0;
  static final int LIVE = 1;
  static final int OWNED = 2;
  static final int GONE = 3;

  final Device device;
  final DeviceBuffer raw;
  /** The pool this block belongs to; {@code null} for an owned buffer. */
  final @Nullable BufferPool pool;
  /** The bucket index, or -1 for an owned buffer. */
  final int bucket;
  final long capacity;

  volatile long generation;
  int state;
  /** Why the last handle died, for the stale handle's message. */
  String lastDeath = "never issued";

  DType dtype = DType.U8;
  long byteLength;
  long elementCount;
  /** Dimensions of the live handle; {@code null} means one dimension of {@code elementCount}. */
  long @Nullable [] shape;

  /** The position in the pool's registry of all blocks, or -1. */
  int registryIndex = -1;
  /** Owned buffers: whether the device's residency set holds it on the buffer's own account. */
  boolean ownResidency;
  /** Owned buffers: pools that registered it through {@link BufferPool#registerExisting}. */
  BufferPool @Nullable [] registeredWith;

  private @Nullable ByteBuffer hostView;

  Block(Device device, DeviceBuffer raw, @Nullable BufferPool pool, int bucket, long capacity) {
    this.device = device;
    this.raw = raw;
    this.pool = pool;
    this.bucket = bucket;
    this.capacity = capacity;
  }

  /** Records the metadata of a new lease; reuses the shape array when the rank matches. */
  void lease(DType dtype, long byteLength, long elementCount, long[] shape) {
    this.dtype = dtype;
    this.byteLength = byteLength;
    this.elementCount = elementCount;
    if (shape.length == 0) {
      this.shape = null;
    } else if (this.shape != null && this.shape.length == shape.length) {
      System.arraycopy(shape, 0, this.shape, 0, shape.length);
    } else {
      this.shape = shape.clone();
    }
  }

  /** Ends the current lease: every handle issued so far becomes stale. */
  void kill(String why) {
    lastDeath = why;
    generation = generation + 1;
  }

  long[] shapeCopy() {
    long[] s = shape;
    return s == null ? new long[] {elementCount} : s.clone();
  }

  /**
   * A native-order view over the first {@link HostMemory#MAX_VIEW} bytes, made once per device
   * buffer. Callers index it absolutely and never move its position.
   */
  ByteBuffer hostView() {
    ByteBuffer v = hostView;
    if (v == null) {
      v = HostMemory.view(raw, 0, Math.min(capacity, HostMemory.MAX_VIEW));
      hostView = v;
    }
    return v;
  }

  String describe() {
    String s = shape == null ? "[" + elementCount + "]" : Arrays.toString(shape);
    return dtype + " " + s + ", " + byteLength + " of " + capacity + " B";
  }
}
