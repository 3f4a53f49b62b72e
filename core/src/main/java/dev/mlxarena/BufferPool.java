package dev.mlxarena;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceStream;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * An arena-style pool of device buffers bound to one {@link Device}: power-of-two (or finer)
 * buckets with a free list each, arena cycles as {@link Scope}s, and per-buffer release.
 *
 * <pre>{@code
 * try (BufferPool pool = BufferPool.create(device)) {
 *   for (int t = 0; t < tokens; t++) {
 *     try (Scope token = pool.openScope()) {
 *       Buffer x = token.alloc(hidden * 4, DType.F32, hidden);
 *       ...
 *     }
 *   }
 * }
 * }</pre>
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>Every device buffer the pool holds is in exactly one place: behind one live handle (LIVE,
 *       in the record of the scope that issued it); free (FREE) in one bucket's global list, one
 *       parked reserve, the reserve of one open scope, or one stream's lane (free for that stream
 *       alone until its fence completes); or waiting for a fence (DEFERRED).
 *   <li>Every move out of LIVE bumps the buffer's generation, which makes all earlier handles stale
 *       (see {@link Buffer}). Release, scope close and reset recycle a buffer only if the handle's
 *       generation still matches, so mixing them never puts one buffer in two places, and two later
 *       allocations never share memory.
 *   <li>A fresh device allocation is zero-filled over its whole capacity and in the residency set,
 *       with one commit per call that changed the set; a reused buffer keeps its last user's bytes.
 *   <li>Memory goes back to the device only after its residency removal is committed.
 *   <li>A call refused for its arguments or by the memory limit leaves the pool as it was; a
 *       device refusal first gives the cache back and retries once (see {@link PoolOptions}).
 * </ul>
 * {@code PoolAudit} checks all of this after every action of the tests.
 *
 * <h2>Threads</h2>
 * All methods are thread-safe. Bookkeeping runs under one lock ({@code PoolLock}), and so do fresh
 * device allocations (as PyTorch's caching allocator does around {@code cudaMalloc}): they happen
 * during warm-up, and holding the lock keeps the memory totals exact. The steady state takes no
 * lock: a closing scope recycles its buffers, without the lock, into its own reserve, in
 * allocation order, and the next scope its thread opens adopts it and takes from it without the
 * lock ({@code ScopeState} says when the lock is taken after all); {@link #stats()} is therefore
 * exact for a pool used by one thread and approximate while other threads allocate. {@link
 * #close()} may race with other threads' allocations and accesses: it leaves their scopes' records
 * and reserves to them, and no memory goes back to the device while the library reads or writes
 * it (see {@link Buffer}). Fences and streams are never called under the lock (see {@link
 * Fence}); the device and its residency set are (fresh allocations, frees, commits), so a {@link
 * Device} must not call back into its pool.
 *
 * <h2>Memory safety</h2>
 * No sequence of public calls, on one thread or across threads, crashes the JVM or reads or writes
 * memory that went back to the device through the library's own accessors; misuse throws ({@link
 * StaleBufferException}, {@link PoolClosedException}, {@link IllegalStateException}). {@link
 * Buffer} says what an access pins, and what a view from {@link Buffer#asByteBuffer()} leaves to
 * the caller.
 *
 * <p>This class is the façade: it holds the lock, checks arguments and the pool's state, and hands
 * each call to the room that owns the state it changes (see {@code core/README.md}).
 *
 * <p>{@link #alloc}, {@link #allocBatch} and {@link #reset()} act on the pool's default scope,
 * for code written against mlx-native's single-arena API.
 */
@SuppressWarnings("try") // try (Section held = section.enter()) holds the lock for a section
public final class BufferPool implements AutoCloseable {
  private final Device device;
  private final PoolOptions options;
  private final BucketPolicy policy;
  private final PoolLock lock = new PoolLock();
  /** Written under the lock; volatile so that a handle's close and queries see it promptly. */
  private volatile boolean closed;
  /** Where this pool's scopes send {@link Buffer#close()} of their handles: the settler. */
  private final ScopeState.HandleCloser handles;
  /** How a scope that became unreachable while open is closed (see {@code LeakTracker}). */
  private final Consumer<ScopeState> closeLeaked = s -> closeScope(s, null);

  private final OpenScopes scopes;
  private final ScopeState defaultScope;
  private final PoolCounters counters;
  private final FreeLists free;
  private final DeviceLedger ledger;
  private final Evictor evictor;
  private final FenceQueue fences;
  /** Sections under {@link #lock} that close the fences released inside them once it is free. */
  private final Section section;
  private final StreamLanes lanes;
  private final Allocator allocator;
  private final HandBacks handBacks;
  private final Settler settler;
  private final Registrations registrations;
  private final PoolAudit audit;

  private BufferPool(Device device, PoolOptions options) {
    this.device = device;
    this.options = options;
    this.policy = options.getBucketPolicy();
    this.scopes = new OpenScopes(policy);
    this.counters = new PoolCounters(scopes);
    this.free = new FreeLists(policy.bucketCount());
    this.ledger = new DeviceLedger(
        device, options.isResidency() ? device.residencySet() : null, options, counters);
    this.evictor = new Evictor(free, ledger, counters, options.getCacheLimit());
    this.fences = new FenceQueue(free, evictor, counters);
    this.section = new Section(lock, fences, ledger);
    this.lanes = new StreamLanes(free, fences, evictor, counters);
    boolean poison = options.isPoisonOnRecycle();
    this.handBacks = new HandBacks(scopes, free, fences, lanes, evictor, counters, poison);
    this.settler =
        new Settler(section, () -> !closed, this::ensureOpen, handBacks, fences, lanes, poison);
    this.handles = settler::closeHandle;
    this.defaultScope = scopes.defaultScope(handles, device.name());
    this.allocator = new Allocator(
        section, settler, this::ensureOpen, free, fences, lanes, ledger, evictor, counters);
    this.registrations = new Registrations(lock, ledger);
    this.audit = new PoolAudit(lock, policy, ledger, free, scopes, fences, lanes, counters);
  }

  /** A pool on {@code device} with {@link PoolOptions#defaults()}. */
  public static BufferPool create(Device device) {
    return create(device, PoolOptions.defaults());
  }

  /** A pool on {@code device} with the given options. */
  public static BufferPool create(Device device, PoolOptions options) {
    Checks.notNull(device, "device");
    Checks.notNull(options, "options");
    return new BufferPool(device, options);
  }

  /** The device this pool allocates from. */
  public Device device() {
    return device;
  }

  /** The options this pool was created with. */
  public PoolOptions options() {
    return options;
  }

  // ================================================================ scopes

  /**
   * Opens a new arena cycle. Allocate through it, then close it (try-with-resources) to recycle
   * everything it issued.
   *
   * @throws PoolClosedException if the pool is closed
   */
  public Scope openScope() {
    return open(null);
  }

  /**
   * Opens a new arena cycle whose buffers are used by work on {@code stream}, and handed back in
   * stream order: when the scope closes (or one of its buffers is released or closed), the pool
   * records a fence on the stream, and the buffers are reusable at once by later scopes on the
   * same stream, and by other streams, stream-less scopes and host access once that fence has
   * completed. The host never waits; {@link DeviceStream} shows a decode loop on a stream and
   * says what this asks of the caller.
   *
   * @throws IllegalArgumentException if the stream belongs to another device
   * @throws PoolClosedException if the pool is closed
   */
  public Scope openScope(DeviceStream stream) {
    Checks.notNull(stream, "stream");
    Checks.sameDevice(stream.device(), device, "stream " + stream);
    return open(stream);
  }

  /** Opens a scope on {@code stream} or none, with the reserve {@code OpenScopes#open} finds. */
  private Scope open(@Nullable DeviceStream stream) {
    try (Section held = section.enter()) {
      ensureOpen();
      ScopeState s = scopes.open(handles, device.name(), stream, lanes, free, evictor);
      Scope handle = new Scope(this, s);
      boolean strict = options.isStrictClose();
      s.watch(handle, options.getLeakDetection(), strict, closeLeaked);
      return handle;
    }
  }

  /** Closes {@code scope} now, or once {@code fence} completes (see {@code Settler#closeScope}). */
  void closeScope(ScopeState scope, @Nullable Fence fence) {
    settler.closeScope(scope, fence);
  }

  // ================================================================ allocation

  /**
   * Allocates from the pool's default scope: {@code bytes / dtype.byteSize()} elements in one
   * dimension. Recycled by {@link #reset()}, {@link #release} or the buffer's close.
   *
   * @see Scope#alloc(long, DType)
   */
  public Buffer alloc(long bytes, DType dtype) {
    return allocIn(defaultScope, bytes, dtype, ScopeState.NO_SHAPE);
  }

  /**
   * Allocates from the pool's default scope with the given shape.
   *
   * @see Scope#alloc(long, DType, long...)
   */
  public Buffer alloc(long bytes, DType dtype, long... shape) {
    return allocIn(defaultScope, bytes, dtype, shape);
  }

  /**
   * Allocates every request from the default scope, or none, with one residency commit.
   *
   * @see Scope#allocBatch(List)
   */
  public List<Buffer> allocBatch(List<AllocRequest> requests) {
    return allocBatchIn(defaultScope, requests);
  }

  /**
   * One allocation through {@code scope}, on its thread. The steady state is the first two lines:
   * the scope's own reserve, without the lock (see the class comment).
   */
  Buffer allocIn(ScopeState scope, long bytes, DType dtype, long[] shape) {
    long elements = Checks.elements(bytes, dtype, shape);
    int bucket = scope.policy.bucketIndex(bytes);
    Block b = scope.takeReserved(bucket);
    if (b != null) {
      Buffer handle = scope.issue(b, dtype, bytes, elements, shape);
      // Read after the issue: a pool close that closed this scope first is seen here. Only a pool
      // close marks a scope closed while it still holds its reserve (any other close takes the
      // reserve first), and the scope's own flag sits on the line its thread writes anyway, where
      // the pool's would share a line with what other threads write under the lock.
      if (!scope.isOpen()) {
        throw closedException();
      }
      return handle;
    }
    return allocator.allocate(scope, bucket, bytes, dtype, elements, shape);
  }

  List<Buffer> allocBatchIn(ScopeState scope, List<AllocRequest> requests) {
    return allocator.allocate(scope, Allocator.Batch.of(policy, requests));
  }

  // ================================================================ release and reset

  /**
   * Returns one pooled buffer to its free list now, before its scope closes. The handle (and its
   * views) become stale; the scope will not recycle it again.
   *
   * @throws StaleBufferException if the handle is already stale
   * @throws IllegalArgumentException if the buffer is a view, owned, or from another pool
   * @throws PoolClosedException if the pool is closed
   */
  public void release(Buffer buffer) {
    settler.release(buffer, HandBacks.requireOwnPooled(buffer, handles, "release"));
  }

  /**
   * Hands one pooled buffer back now but keeps its memory out of the free lists until {@code
   * fence} completes, because the device may still be using it. The handle becomes stale at once.
   *
   * @throws StaleBufferException if the handle is already stale
   * @throws IllegalArgumentException if the buffer is a view, owned, or from another pool
   * @throws PoolClosedException if the pool is closed
   */
  public void release(Buffer buffer, Fence fence) {
    ScopeState issuer = HandBacks.requireOwnPooled(buffer, handles, "release");
    Checks.notNull(fence, "fence");
    settler.releaseAfter(buffer, issuer, fence);
  }

  /**
   * Ends the default scope's cycle: every buffer allocated through {@link #alloc} and {@link
   * #allocBatch} and not yet released returns to the free lists, and its handle becomes stale.
   * Buffers of other scopes and registered buffers are untouched. A reset with nothing allocated
   * is a no-op.
   *
   * @throws PoolClosedException if the pool is closed
   */
  public void reset() {
    settler.reset(defaultScope);
  }

  /**
   * Gives every cached buffer back to the device (those reserved by open scopes excepted), after
   * collecting completed fences. Returns the bytes freed.
   *
   * @throws PoolClosedException if the pool is closed
   */
  public long trim() {
    return trim(0);
  }

  /**
   * Gives cached buffers back to the device, least recently used buckets first, until at most
   * {@code targetBytes} stay cached. Returns the bytes freed.
   *
   * @throws IllegalArgumentException if {@code targetBytes} is negative
   * @throws PoolClosedException if the pool is closed
   */
  public long trim(long targetBytes) {
    if (targetBytes < 0) {
      throw new IllegalArgumentException("trim target must be at least 0 bytes, was " + targetBytes);
    }
    settler.poll();
    try (Section held = section.enter()) {
      ensureOpen();
      return evictor.trimTo(targetBytes, "trim");
    }
  }

  /**
   * Frees every buffer in the free lists back to the device, removing them from the residency set
   * with one commit. Live buffers are untouched, and so are the reserves of scopes still open
   * (their threads own them until they close).
   *
   * @throws PoolClosedException if the pool is closed
   */
  public void clear() {
    try (Section held = section.enter()) {
      ensureOpen();
      evictor.clear();
    }
  }

  // ================================================================ registered buffers

  /**
   * Registers an owned buffer (weights, a KV cache) with this pool without pooling it, as
   * mlx-native's {@code register_existing}: it is added to the residency set unless it already
   * carries its own registration, it is never recycled by {@link #reset()} or scope close, and
   * it stays valid when the pool closes (the pool only drops the registration it added).
   * Registering the same buffer twice is a no-op.
   *
   * @throws StaleBufferException if the buffer was already closed
   * @throws IllegalArgumentException if the buffer is pooled, a view, or of another device
   * @throws PoolClosedException if the pool is closed
   */
  public void registerExisting(Buffer buffer) {
    OwnedBuffer owner = Registrations.requireRegistrable(buffer, device, handles);
    registrations.register(buffer, owner, this::ensureOpen);
  }

  /** Whether {@code buffer} is registered with this pool through {@link #registerExisting}. */
  public boolean isRegistered(Buffer buffer) {
    return registrations.isRegistered(buffer);
  }

  // ================================================================ close

  /**
   * Closes the pool: closes every open scope, makes every pooled handle stale, gives back every
   * device buffer the pool holds, and drops the residency registrations it made (with one commit).
   * Registered owned buffers stay valid. Idempotent.
   *
   * <p>Other threads may still be using the pool: an allocation or access racing with the close
   * throws ({@link PoolClosedException}, {@link StaleBufferException}) rather than touching freed
   * memory. Memory that an access on another thread is reading or writing at that moment goes back
   * to the device when the access ends, and memory behind a view from {@link
   * Buffer#asByteBuffer()} once the view is unreachable (see {@link Buffer}); the rest goes back
   * before this returns.
   */
  @Override
  public void close() {
    List<Throwable> stillOpen;
    RuntimeException failure;
    try (Section held = section.enter()) {
      if (closed) {
        return;
      }
      closed = true;
      stillOpen = handBacks.closeAll(defaultScope);
      failure = ledger.closeAll(registrations.dropAll());
      counters.poolClosed();
    }
    if (options.isStrictClose() && !stillOpen.isEmpty()) {
      throw HandBacks.closedWithScopesOpen(stillOpen, failure);
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return closed;
  }

  // ================================================================ queries

  /** The number of buffers waiting in the free lists (reserves of open scopes included). */
  public int freeCount() {
    return audit.freeCount();
  }

  /** The number of free buffers in the bucket that serves {@code bytes}. */
  public int freeCount(long bytes) {
    return audit.freeCount(policy.bucketIndex(bytes));
  }

  /** The total capacity, in bytes, of the free buffers. */
  public long freeBytes() {
    return audit.freeBytes();
  }

  /** The number of live pooled buffers, across all scopes. */
  public int inUseCount() {
    return audit.inUseCount();
  }

  /**
   * A snapshot of the pool's counters. Exact when no other thread is allocating; while others
   * are, their scopes' latest lock-free allocations may not be counted yet.
   */
  public PoolStats stats() {
    return audit.stats();
  }

  /** Starts the peak figures of {@link #stats()} again from the current values. */
  public void resetPeaks() {
    audit.resetPeaks();
  }

  /** How the held buffers spread over buckets, smallest first; buckets holding nothing are left out. */
  public List<BucketStats> bucketStats() {
    return audit.bucketStats();
  }

  /** The capacity a request of {@code bytes} bytes is given, under this pool's bucket policy. */
  public long bucketSize(long bytes) {
    return policy.bucketSize(bytes);
  }

  /** The pool's read-only views and invariant audit, for tests and diagnostics. */
  PoolAudit audit() {
    return audit;
  }

  @Override
  public String toString() {
    return "BufferPool[" + device.name() + ", " + policy + (closed ? ", closed" : "") + ", "
        + audit.describe() + "]";
  }

  // ================================================================ checks

  private void ensureOpen() {
    if (closed) {
      throw closedException();
    }
  }

  private PoolClosedException closedException() {
    return new PoolClosedException("the pool on " + device.name() + " is closed");
  }
}
