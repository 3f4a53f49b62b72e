package dev.mlxarena;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.HostMemory;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * The record of one device buffer, and of the handle currently issued over it. A block knows
 * nothing above itself: its handle carries the {@link Recycler} that takes it back.
 *
 * <h2>Generations</h2>
 * Every time the memory is handed back (release, scope close, reset, clear, pool close, free) the
 * generation is incremented. A {@link Buffer} remembers the generation it was issued at and is live
 * exactly while the two are equal, so every handle issued before a recycle becomes stale at once,
 * without anyone having to find it. Generations are 64-bit: they never wrap in practice, so a
 * stale handle can never become valid again.
 *
 * <h2>Lease metadata</h2>
 * A live block has exactly one live handle, so the handle's dtype, length and shape live here
 * rather than in the handle (which stays small: the hot path allocates only the handle). They are
 * meaningful only while the generation matches; stale handles check first and never read them.
 *
 * <h2>Memory ordering</h2>
 * All mutable fields except {@code generation} are plain and guarded by the owner: the pool's lock;
 * the scope's thread for a block in that scope's reserve (see {@code Reserve}); the closing thread
 * for a block of a scope being handed back (see {@code HandBacks}); or, for owned buffers, the
 * block's own monitor. {@code generation} is written only by the owner, as a release
 * store ({@link #kill}), read by anyone as an acquire load ({@link #generationAcquire()}) and by the
 * owner as a plain one ({@link #generationPlain()}), so
 * a handle's liveness check needs no lock; on x86 both are plain moves, which keeps recycling a
 * scope free of fences.
 */
final class Block {
  private static final VarHandle GENERATION;

  static {
    try {
      GENERATION = MethodHandles.lookup().findVarHandle(Block.class, "generation", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  static final int FREE = 0;
  static final int LIVE = 1;
  static final int OWNED = 2;
  static final int GONE = 3;
  /** Handed back with a fence that has not completed: neither live nor free. */
  static final int DEFERRED = 4;

  final Device device;
  final DeviceBuffer raw;
  /** The bucket index, or -1 for an owned buffer. */
  final int bucket;
  final long capacity;

  private long generation;
  int state;
  /** Why the last handle died (a {@code DEATH_*} code), for the stale handle's message. */
  byte lastDeath = DEATH_NONE;

  // Death codes are bytes, not strings, so recycling stores no references.
  static final byte DEATH_NONE = 0;
  static final byte DEATH_RELEASED = 1;
  static final byte DEATH_CLOSED = 2;
  static final byte DEATH_SCOPE_CLOSED = 3;
  static final byte DEATH_RESET = 4;
  static final byte DEATH_CLEARED = 5;
  static final byte DEATH_POOL_CLOSED = 6;
  static final byte DEATH_OWNED_CLOSED = 7;
  private static final String[] DEATHS = {
    "never handed back",
    "it was released",
    "it was closed",
    "its scope was closed",
    "the pool was reset",
    "the pool was cleared",
    "its pool was closed",
    "the owned buffer was closed"
  };

  DType dtype = DType.U8;
  long byteLength;
  long elementCount;
  /** Dimensions of the live handle; {@code null} means one dimension of {@code elementCount}. */
  long @Nullable [] shape;

  /** The position in the pool's registry of all blocks, or -1. */
  int registryIndex = -1;

  private @Nullable ByteBuffer hostView;

  Block(Device device, DeviceBuffer raw, int bucket, long capacity) {
    this.device = device;
    this.raw = raw;
    this.bucket = bucket;
    this.capacity = capacity;
  }

  /** Whether a pool's bucket holds this block (as opposed to an owned buffer). */
  boolean isPooled() {
    return bucket >= 0;
  }

  String deathReason() {
    return DEATHS[lastDeath];
  }

  /** Records the metadata of a new lease; reuses the shape array when the rank matches. */
  void lease(DType dtype, long byteLength, long elementCount, long[] shape) {
    // Reference fields are written only when they change: a reference store into an old object
    // costs a GC write barrier, and in steady state a bucket is reused for the same dtype.
    if (this.dtype != dtype) {
      this.dtype = dtype;
    }
    this.byteLength = byteLength;
    this.elementCount = elementCount;
    if (shape.length == 0) {
      if (this.shape != null) {
        this.shape = null;
      }
    } else if (this.shape != null && this.shape.length == shape.length) {
      System.arraycopy(shape, 0, this.shape, 0, shape.length);
    } else {
      this.shape = shape.clone();
    }
  }

  /** Ends the current lease (release store of the next generation): every handle so far is stale. */
  void kill(byte why) {
    lastDeath = why;
    GENERATION.setRelease(this, generation + 1); // plain read: only the owner writes it
  }

  /** The current generation, as an acquire load: what a handle compares its own against. */
  long generationAcquire() {
    return (long) GENERATION.getAcquire(this);
  }

  /**
   * The current generation, as a plain load: only for the block's owner (the pool under its lock,
   * or the scope's thread for a block of its reserve), which is the only writer.
   */
  long generationPlain() {
    return generation;
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
