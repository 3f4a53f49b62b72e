package dev.mlxarena;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.HostMemory;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Cleaner;
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
 *
 * <h2>Giving memory back while another thread may be reading it</h2>
 * The generation check says whether a handle may still be used; it cannot stop a use that passed
 * it a moment before another thread ended the lease and gave the memory back (a pool closing while
 * other threads allocate and write, an owned buffer closed while another thread reads it). So
 * every access of the memory through the library (typed get and put, bulk copies, and the views
 * {@code asByteBuffer} hands out) holds a <em>pin</em> on the block for its duration, and memory
 * goes back to the device only when no pin is held: a reference count of accesses in flight.
 *
 * <p>{@link #pins} counts the pins, plus two flags. The owner (the pool's ledger, under its lock,
 * after the residency removal is committed; or an owned buffer's close) gives the memory up with
 * {@link #retireMemory}, which sets {@link #RETIRED}: if no pin was held, the owner frees the memory
 * at once; else the last pin out frees it, on its own thread ({@link #unpin}). {@link #FREED} marks
 * the memory freed, or being freed, by exactly one of them (a compare-and-set from {@code RETIRED}
 * with no pins). A pin taken after retirement fails, and the access throws {@link
 * StaleBufferException}. Each pin is one atomic add to take and one to drop, on this block's own
 * line, so threads working on different buffers never contend; an in-flight count per pool would
 * put every thread's accesses on one line. Nothing waits: no thread, and no lock holder, ever
 * blocks for another's access, and an access can never hold up a pool's close for longer than it
 * runs.
 *
 * <p>A view from {@code asByteBuffer} holds its pin for as long as the view, or any buffer made
 * from it (slices, duplicates, {@code asFloatBuffer}), is reachable: a {@link Cleaner} drops it once
 * they are collected (such buffers keep their parent reachable, and their accessors keep
 * themselves reachable until each access ends). The memory behind a view that escaped therefore
 * goes back to the device after a garbage collection, not when its owner closes.
 *
 * <p>Every block claims its device buffer when it is made ({@link #claimMemory}, see {@link
 * Claims}) and gives the claim up just before its memory is freed.
 */
final class Block {
  private static final System.Logger LOG = System.getLogger(Block.class.getName());
  private static final VarHandle GENERATION;
  private static final VarHandle PINS;
  private static final VarHandle HOST_VIEW;

  static {
    try {
      MethodHandles.Lookup lookup = MethodHandles.lookup();
      GENERATION = lookup.findVarHandle(Block.class, "generation", long.class);
      PINS = lookup.findVarHandle(Block.class, "pins", int.class);
      HOST_VIEW = lookup.findVarHandle(Block.class, "hostView", ByteBuffer.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** Set in {@link #pins} when the owner has given the memory up: the last pin out frees it. */
  private static final int RETIRED = 1 << 29;
  /** Set in {@link #pins} once one thread has taken the free of the memory on itself. */
  private static final int FREED = 1 << 30;

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

  /** Accesses in flight, and {@link #RETIRED} and {@link #FREED}; only through {@link #PINS}. */
  @SuppressWarnings("unused") // accessed through PINS
  private volatile int pins;

  /** The view typed access reads through; published with release, read with acquire. */
  @SuppressWarnings("unused") // accessed through HOST_VIEW
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
   * buffer and never handed out. Callers hold a pin, index it absolutely and never move its
   * position. Threads that race to make it make equal views; either serves.
   */
  ByteBuffer hostView() {
    ByteBuffer v = (ByteBuffer) HOST_VIEW.getAcquire(this);
    if (v == null) {
      v = HostMemory.view(raw, 0, Math.min(capacity, HostMemory.MAX_VIEW));
      HOST_VIEW.setRelease(this, v); // the view's fields are written before it is published
    }
    return v;
  }

  // ---------------------------------------------------------------- the memory's life

  /**
   * Claims the device buffer for this block (see {@link Claims}).
   *
   * @throws IllegalArgumentException if someone else owns it
   * @throws IllegalStateException if it was freed
   */
  void claimMemory() {
    Claims.claim(raw, this);
  }

  /**
   * Pins the memory for one access (see the class comment).
   *
   * @throws StaleBufferException if it has gone back to the device, or is going
   */
  void pin() {
    if (((int) PINS.getAndAdd(this, 1) & (RETIRED | FREED)) != 0) {
      unpin();
      throw memoryGone();
    }
  }

  /** Ends a pin; the last one out of retired memory frees it, on this thread. */
  void unpin() {
    if ((int) PINS.getAndAddRelease(this, -1) - 1 == RETIRED
        && PINS.compareAndSet(this, RETIRED, FREED)) {
      freeMemoryLogged();
    }
  }

  /**
   * The owner gives the memory up; call once, after its residency removal is committed. Returns
   * whether the caller must free it now ({@link #freeMemory()}): else an access is in flight, and
   * the last one out frees it.
   */
  boolean retireMemory() {
    int was = (int) PINS.getAndAdd(this, RETIRED);
    if ((was & (RETIRED | FREED)) != 0) {
      throw new IllegalStateException("the memory of " + raw + " was given up twice");
    }
    return was == 0 && PINS.compareAndSet(this, RETIRED, FREED);
  }

  /** Gives the claim up and frees the memory; for whoever retired it with no pin held. */
  void freeMemory() {
    Claims.release(raw, this);
    device.free(raw);
  }

  /** {@link #freeMemory()} on an access's or a cleaner's thread, where a failure can only be logged. */
  private void freeMemoryLogged() {
    try {
      freeMemory();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "giving back " + raw + " after its last access failed", e);
    }
  }

  /**
   * Registers {@code view}, a view of this block's memory handed to the user, to hold a pin while
   * it is reachable; the caller has taken that pin.
   */
  void pinWhileReachable(ByteBuffer view) {
    LeakTracker.CLEANER.register(view, this::unpin);
  }

  private StaleBufferException memoryGone() {
    return new StaleBufferException(
        "stale buffer handle: its " + capacity + "-byte device buffer has gone back to the device ("
            + deathReason() + ")");
  }

  @Override
  public String toString() {
    // Names the owner in a refused claim (see Claims).
    return isPooled() ? "a buffer pool on " + device.name() : "an owned buffer of " + device.name();
  }

  /** The exception for a handle issued at {@code generation}, once this block has moved on. */
  StaleBufferException staleException(long generation) {
    return new StaleBufferException(
        "stale buffer handle: its " + capacity + "-byte device buffer was handed back ("
            + deathReason() + "; handle generation " + generation + ", memory now at "
            + generationAcquire() + "). A handle must not be used after its scope closes or after"
            + " release, reset or close.");
  }

  String describe() {
    String s = shape == null ? "[" + elementCount + "]" : Arrays.toString(shape);
    return dtype + " " + s + ", " + byteLength + " of " + capacity + " B";
  }
}
