package dev.mlxarena;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.testing.CountingRegistrar;
import dev.mlxarena.testing.DeviceHarness;
import dev.mlxarena.testing.ResidencyProbe;
import dev.mlxarena.testing.TestStream;
import dev.mlxarena.testing.TestStream.TestFence;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The state of one model-based run: the real pool on a real device, and a plain model of what the
 * pool must look like. Actions change both; {@link #checkInvariants()} compares them after every
 * action. The model keeps, per bucket capacity, the set of free device buffers; the buffers
 * waiting in each stream's lane ({@link LaneModel}); the live handles with their scope, size and
 * the byte last written; the stale handles with how they died; and the expected counters. Scopes
 * open on two test streams, A and B, or none, whose fences complete when an action says.
 */
final class PoolMachine {
  /** A live handle as the model sees it. */
  static final class Live {
    final Buffer handle;
    final @Nullable ScopeModel scope; // null: the pool's default scope
    final @Nullable TestStream stream; // the stream its scope was opened on
    final long requested;
    final long capacity;
    final DeviceBuffer raw;

    Live(Buffer handle, @Nullable ScopeModel scope, long requested, long capacity) {
      this.handle = handle;
      this.scope = scope;
      this.stream = scope == null ? null : scope.stream;
      this.requested = requested;
      this.capacity = capacity;
      this.raw = handle.deviceBuffer();
    }
  }

  static final class ScopeModel {
    final Scope scope;
    final @Nullable TestStream stream;
    boolean open = true;
    /** The free buffers reserved for this scope: adopted when it opened, refilled as it closes. */
    @Nullable Map<Long, Set<DeviceBuffer>> reserve;

    ScopeModel(Scope scope, @Nullable TestStream stream, @Nullable Map<Long, Set<DeviceBuffer>> reserve) {
      this.scope = scope;
      this.stream = stream;
      this.reserve = reserve;
    }
  }

  record Dead(Buffer handle, String how) {}

  /** The stream and fence of a buffer's last hand-back on a stream. */
  record HandBack(TestStream stream, TestFence fence) {}

  /** What {@link #written} holds for a buffer poisoned on recycle. */
  static final int POISONED = -1;

  final DeviceHarness harness;
  final Device device;
  final BufferPool pool;
  final boolean residency;
  final boolean canInjectFailures;
  final boolean poison;
  final List<TestStream> streams;
  /** R2: every buffer the pool holds is registered here, once. */
  final CountingRegistrar registrar = new CountingRegistrar("R2");

  // The model. Free buffers are in the global lists, in parked reserves (newest last), or in the
  // reserve of an open scope, exactly as FreeLists describes.
  final Map<Long, Set<DeviceBuffer>> free = new java.util.TreeMap<>();
  final java.util.Deque<Map<Long, Set<DeviceBuffer>>> parked = new java.util.ArrayDeque<>();
  final LaneModel lanes = new LaneModel();
  final Set<DeviceBuffer> held = identitySet();
  /** The byte every live or free buffer holds (0 to 255), or {@link #POISONED}. */
  final Map<DeviceBuffer, Integer> written = new IdentityHashMap<>();
  final Map<DeviceBuffer, HandBack> handedBack = new IdentityHashMap<>();
  final List<Live> live = new ArrayList<>();
  final List<Dead> stale = new ArrayList<>();
  final List<ScopeModel> scopes = new ArrayList<>();
  final List<Buffer> owned = new ArrayList<>();
  long allocations;
  long fresh;
  long hits;
  /** Allocations the scope's own reserve could not serve, and batches: those under the lock. */
  long locked;
  long deviceFrees;
  long commits;
  long oomRetries;
  /** What this run reached, for the coverage checks. */
  final Set<String> events = new TreeSet<>();
  /** Releases in the current default-scope cycle, to spot release and reset mixed in one cycle. */
  private boolean releasedThisCycle;

  PoolMachine(Supplier<DeviceHarness> harnesses, boolean canInjectFailures, BucketPolicy policy, boolean poison) {
    this.harness = harnesses.get();
    this.device = harness.device();
    this.pool = BufferPool.create(device,
        PoolOptions.builder().bucketPolicy(policy).poisonOnRecycle(poison).registrar(registrar).build());
    this.residency = device.residencySet() != null;
    this.canInjectFailures = canInjectFailures;
    this.poison = poison;
    this.streams = List.of(new TestStream(device, "A"), new TestStream(device, "B"));
  }

  static <T> Set<T> identitySet() {
    return Collections.newSetFromMap(new IdentityHashMap<>());
  }

  // ================================================================ actions

  void alloc(long bytes, int scopeChoice) {
    ScopeModel target = pickScope(scopeChoice);
    long cap = pool.bucketSize(bytes);
    Set<DeviceBuffer> candidates = source(target, cap, true);
    boolean expectReuse = !candidates.isEmpty();
    boolean fromReserve = expectReuse && target != null && target.reserve != null
        && target.reserve.get(cap) == candidates;
    Buffer b = target == null ? pool.alloc(bytes, DType.U8) : target.scope.alloc(bytes, DType.U8);
    Live l = new Live(b, target, bytes, cap);
    check(b.capacity() == cap, "B5: capacity " + b.capacity() + " for " + bytes + " bytes, bucket " + cap);
    if (expectReuse) {
      check(candidates.contains(l.raw), "B5: a reuse must come from the bucket's free list");
      candidates.remove(l.raw);
      if (fromReserve) {
        events.add("reuse from the scope's reserve");
      }
      reused(l, "Z1: a reused buffer keeps the bytes its last user wrote");
    } else {
      fresh(l);
      commits += residency ? 1 : 0;
      checkBytes(l, 0, "Z1: a fresh allocation reads zero over its whole capacity");
    }
    lanes.sweep();
    allocations++;
    locked += fromReserve ? 0 : 1;
    live.add(l);
  }

  /**
   * Model bookkeeping for a reuse, and S1: a buffer last handed back on a stream goes elsewhere
   * (another stream, a stream-less scope, the host) only once that stream's fence has completed.
   */
  private void reused(Live l, String z1) {
    hits++;
    events.add("reuse");
    checkBytes(l, written.getOrDefault(l.raw, 0), poison ? "poison on recycle" : z1);
    HandBack hb = handedBack.remove(l.raw);
    if (hb != null && hb.stream() != l.stream) {
      check(hb.fence().reached(), "S1: a buffer handed back on " + hb.stream() + " went to "
          + (l.stream == null ? "a stream-less user" : l.stream) + " before " + hb.fence() + " completed");
      events.add("reused elsewhere after its stream's fence completed");
    } else if (hb != null && !hb.fence().reached()) {
      events.add("reused on its own stream before its fence completed");
    }
  }

  private void fresh(Live l) {
    check(!held.contains(l.raw), "a fresh allocation must be a new device buffer");
    held.add(l.raw);
    written.put(l.raw, 0);
    fresh++;
    events.add("fresh");
  }

  void allocBatch(List<Long> sizes, int scopeChoice) {
    ScopeModel target = pickScope(scopeChoice);
    List<AllocRequest> requests = new ArrayList<>();
    for (long s : sizes) {
      requests.add(new AllocRequest(s, DType.U8));
    }
    List<Buffer> out = target == null ? pool.allocBatch(requests) : target.scope.allocBatch(requests);
    check(out.size() == sizes.size(), "batch size");
    collect(); // a batch polls the fences first
    boolean anyFresh = false;
    for (int i = 0; i < out.size(); i++) {
      long cap = pool.bucketSize(sizes.get(i));
      Live l = new Live(out.get(i), target, sizes.get(i), cap);
      Set<DeviceBuffer> avail = source(target, cap, false);
      if (!avail.isEmpty()) {
        check(avail.remove(l.raw), "B5: a batch reuse must come from the bucket's free list");
        reused(l, "Z1: a batch reuse keeps the bytes its last user wrote");
      } else {
        fresh(l);
        anyFresh = true;
      }
      allocations++;
      locked++;
      live.add(l);
    }
    lanes.sweep();
    commits += residency && anyFresh ? 1 : 0;
    events.add("batch");
  }

  void release(int index, boolean viaClose) {
    Live l = live.remove(Math.floorMod(index, live.size()));
    if (viaClose) {
      l.handle.close();
    } else {
      pool.release(l.handle);
    }
    handBack(l.raw);
    if (l.stream == null) {
      toFree(l);
    } else { // one buffer behind a fence of its own, on its scope's stream
      Map<Long, Set<DeviceBuffer>> one = new java.util.TreeMap<>();
      one.put(l.capacity, identitySet());
      one.get(l.capacity).add(l.raw);
      lanes.add(l.stream, new LaneModel.Entry(l.stream.last(), one, false), events);
      handedBack.put(l.raw, new HandBack(l.stream, l.stream.last()));
      events.add("released on a stream");
    }
    stale.add(new Dead(l.handle, viaClose ? "closed" : "released"));
    if (l.scope == null) {
      releasedThisCycle = true;
    }
  }

  void reset() {
    if (releasedThisCycle && live.stream().anyMatch(l -> l.scope == null)) {
      events.add("release+reset in one cycle");
    }
    pool.reset();
    recycleAll(null, "reset");
    releasedThisCycle = false;
  }

  void openScope(int streamChoice) {
    TestStream stream = streamChoice == 0 ? null : streams.get(streamChoice - 1);
    LaneModel.Entry adopted = stream == null ? null : lanes.adopt(stream);
    if (adopted != null) {
      events.add("stream reserve adopted");
      scopes.add(new ScopeModel(pool.openScope(stream), stream, adopted.blocks));
    } else {
      Scope s = stream == null ? pool.openScope() : pool.openScope(stream);
      scopes.add(new ScopeModel(s, stream, parked.pollLast()));
    }
  }

  /** The device catches up with {@code stream} up to its {@code lag}-th newest fence. */
  void completeFences(int streamIndex, int lag) {
    TestStream s = streams.get(streamIndex);
    s.completeUpTo(s.recorded().size() - lag);
    events.add("fences completed");
  }

  void closeScope(int index) {
    ScopeModel s = scopes.get(Math.floorMod(index, scopes.size()));
    s.scope.close();
    if (s.open) {
      s.open = false;
      Map<Long, Set<DeviceBuffer>> reserve = s.reserve != null ? s.reserve : new java.util.TreeMap<>();
      s.reserve = null;
      List<DeviceBuffer> recycled = recycleAll(s, "scope closed", reserve);
      boolean any = reserve.values().stream().anyMatch(x -> !x.isEmpty());
      if (s.stream == null && any) {
        park(reserve);
      } else if (any) { // behind the fence the close recorded on the scope's stream
        lanes.add(s.stream, new LaneModel.Entry(s.stream.last(), reserve, true), events);
        recycled.forEach(raw -> handedBack.put(raw, new HandBack(s.stream, s.stream.last())));
        events.add("scope closed on a stream");
      }
    } else {
      events.add("scope closed twice");
    }
  }

  void registerExisting(boolean twice) {
    Buffer b = Buffer.allocOwned(device, 64, DType.U8);
    owned.add(b);
    pool.registerExisting(b);
    if (twice) {
      pool.registerExisting(b);
    }
    events.add("registered");
  }

  void clear() {
    int freed = clearModelCache();
    pool.clear();
    commits += residency && freed > 0 ? 1 : 0;
    events.add("clear");
  }

  void write(int index, byte value) {
    Live l = live.get(Math.floorMod(index, live.size()));
    ByteBuffer bb = ByteBuffer.allocateDirect((int) l.capacity);
    while (bb.hasRemaining()) {
      bb.put(value);
    }
    bb.flip();
    device.write(l.raw, 0, bb);
    written.put(l.raw, value & 0xFF);
    events.add("write");
  }

  void readAll() {
    for (Live l : live) {
      checkBytes(l, written.getOrDefault(l.raw, 0), "a live buffer lost its bytes: aliasing");
    }
  }

  void useStale(int index) {
    Dead d = stale.get(Math.floorMod(index, stale.size()));
    check(!d.handle().isValid(), "A3: stale handle reports valid");
    try {
      d.handle().byteLength();
      throw new AssertionError("A3: stale handle (" + d.how() + ") was usable");
    } catch (StaleBufferException expected) {
      events.add("stale access after " + d.how());
    }
  }

  void invalidCall(int which) {
    PoolStats before = pool.stats();
    try {
      switch (Math.floorMod(which, 4)) {
        case 0 -> pool.alloc(0, DType.F32);
        case 1 -> pool.alloc(16, DType.F32, 8);
        case 2 -> {
          try (Buffer o = Buffer.allocOwned(device, 8, DType.U8)) {
            pool.release(o);
          }
        }
        default -> pool.alloc(-1, DType.U8);
      }
      throw new AssertionError("an invalid call was accepted");
    } catch (IllegalArgumentException expected) {
      events.add("invalid call refused");
    }
    check(before.equals(pool.stats()), "a refused call changed the pool");
  }

  /** Injects a device failure into an allocation that must go to the device. */
  void failedAllocation(long bytes) {
    long cap = pool.bucketSize(bytes);
    if (!source(null, cap, false).isEmpty() || !lanes.isEmpty()) {
      return; // a reuse hit (or a poll that may find one) would not reach the device
    }
    boolean cacheToGiveBack = !free.values().stream().allMatch(Set::isEmpty)
        || parked.stream().anyMatch(r -> r.values().stream().anyMatch(x -> !x.isEmpty()));
    PoolStats before = pool.stats();
    int devLive = harness.liveAllocations();
    harness.failNthAllocation(1);
    if (cacheToGiveBack) {
      // L1 with OOM recovery: the cache goes back to the device, then the retry succeeds.
      clearModelCache();
      commits += residency ? 1 : 0;
      Buffer b = pool.alloc(bytes, DType.U8);
      Live l = new Live(b, null, bytes, cap);
      check(!held.contains(l.raw), "the retried allocation is a new device buffer");
      fresh(l);
      allocations++;
      locked++;
      commits += residency ? 1 : 0;
      live.add(l);
      oomRetries++;
      events.add("injected failure, retried after freeing the cache");
      return;
    }
    try {
      pool.alloc(bytes, DType.U8);
      throw new AssertionError("the injected failure did not surface");
    } catch (BufferAllocationException expected) {
      check(expected.getRequestedBytes() == cap, "the exception names the bytes asked of the device");
      events.add("injected failure");
    }
    check(before.equals(pool.stats()), "L1: a refused allocation changed the pool");
    check(devLive == harness.liveAllocations(), "a refused allocation kept device memory");
  }

  /** Parks a closed scope's reserve; beyond the limit, the oldest parked one joins the global lists. */
  private void park(Map<Long, Set<DeviceBuffer>> reserve) {
    if (parked.size() == FreeLists.PARK_LIMIT) {
      parked.pollFirst().forEach((cap, set) -> free.computeIfAbsent(cap, k -> identitySet()).addAll(set));
      events.add("parked reserve merged");
    }
    parked.addLast(reserve);
  }

  /** A poll round: what completed fences freed joins the free lists. */
  private void collect() {
    lanes.collect(this::park, free, events);
  }

  /** Frees every cached buffer the pool may evict: the global lists and parked reserves. */
  private int clearModelCache() {
    int freed = 0;
    for (Set<DeviceBuffer> s : free.values()) {
      freed += s.size();
      held.removeAll(s);
      s.clear();
    }
    for (Map<Long, Set<DeviceBuffer>> r : parked) {
      for (Set<DeviceBuffer> s : r.values()) {
        freed += s.size();
        held.removeAll(s);
      }
    }
    parked.clear();
    deviceFrees += freed;
    return freed;
  }

  // ================================================================ model helpers

  private @Nullable ScopeModel pickScope(int choice) {
    List<ScopeModel> open = scopes.stream().filter(s -> s.open).toList();
    if (open.isEmpty() || choice < 0) {
      return null;
    }
    return open.get(choice % open.size());
  }

  /**
   * Where an allocation of bucket {@code cap} must come from: the scope's reserve if it has one
   * of that bucket; else, under the lock, its stream's lane (newest hand-back first), the global
   * list, the parked reserves from newest to oldest; and when none has one while fences wait, a
   * poll round first ({@code mayPoll}), then those again. The returned set is the model's own (the
   * caller removes what was taken); empty means fresh.
   */
  private Set<DeviceBuffer> source(@Nullable ScopeModel scope, long cap, boolean mayPoll) {
    if (scope != null && scope.reserve != null) {
      Set<DeviceBuffer> r = scope.reserve.get(cap);
      if (r != null && !r.isEmpty()) {
        return r;
      }
    }
    if (scope != null && scope.stream != null) {
      Set<DeviceBuffer> l = lanes.source(scope.stream, cap);
      if (!l.isEmpty()) {
        return l;
      }
    }
    Set<DeviceBuffer> g = free.get(cap);
    if (g != null && !g.isEmpty()) {
      return g;
    }
    for (java.util.Iterator<Map<Long, Set<DeviceBuffer>>> it = parked.descendingIterator(); it.hasNext(); ) {
      Set<DeviceBuffer> p = it.next().get(cap);
      if (p != null && !p.isEmpty()) {
        return p;
      }
    }
    if (mayPoll && !lanes.isEmpty()) {
      collect();
      return source(scope, cap, false);
    }
    return identitySet();
  }

  /** A live buffer goes back: poisoned, if the pool poisons. */
  private void handBack(DeviceBuffer raw) {
    if (poison) {
      written.put(raw, POISONED);
    }
    handedBack.remove(raw);
  }

  private void toFree(Live l) {
    free.computeIfAbsent(l.capacity, k -> identitySet()).add(l.raw);
  }

  private void recycleAll(@Nullable ScopeModel scope, String how) {
    recycleAll(scope, how, free);
  }

  /** Hands back every live buffer of {@code scope} into {@code into}; returns them. */
  private List<DeviceBuffer> recycleAll(
      @Nullable ScopeModel scope, String how, Map<Long, Set<DeviceBuffer>> into) {
    List<DeviceBuffer> out = new ArrayList<>();
    for (java.util.Iterator<Live> it = live.iterator(); it.hasNext(); ) {
      Live l = it.next();
      if (l.scope == scope) {
        it.remove();
        into.computeIfAbsent(l.capacity, k -> identitySet()).add(l.raw);
        stale.add(new Dead(l.handle, how));
        handBack(l.raw);
        out.add(l.raw);
      }
    }
    return out;
  }

  /** Every free buffer the model knows, by bucket: global, parked and open scopes' reserves. */
  private Map<Long, Set<DeviceBuffer>> allFree() {
    Map<Long, Set<DeviceBuffer>> all = new java.util.TreeMap<>();
    java.util.function.Consumer<Map<Long, Set<DeviceBuffer>>> add =
        m -> m.forEach((cap, set) -> all.computeIfAbsent(cap, k -> identitySet()).addAll(set));
    add.accept(free);
    parked.forEach(add);
    scopes.stream().filter(sc -> sc.open && sc.reserve != null).forEach(sc -> add.accept(sc.reserve));
    return all;
  }

  /** Checks every byte of {@code l} is {@code expected}, or the poison pattern for {@link #POISONED}. */
  private void checkBytes(Live l, int expected, String what) {
    ByteBuffer bb = ByteBuffer.allocateDirect((int) l.capacity);
    device.read(l.raw, 0, bb);
    bb.flip();
    ByteBuffer pattern = ByteBuffer.allocate(4).order(java.nio.ByteOrder.nativeOrder()).putInt(PoolOptions.POISON);
    for (int i = 0; i < l.capacity; i++) {
      byte want = expected == POISONED ? pattern.get(i & 3) : (byte) expected;
      if (bb.get(i) != want) {
        throw new AssertionError(what + ": byte " + i + " of " + l.capacity + " is " + bb.get(i)
            + ", expected " + want);
      }
    }
  }

  static void check(boolean ok, String what) {
    if (!ok) {
      throw new AssertionError(what);
    }
  }

  // ================================================================ invariants

  /** Everything DESIGN.md promises, compared against the model after every action. */
  void checkInvariants() {
    // A2: the pool's own bookkeeping (each device buffer in one place, counters match blocks).
    PoolInvariants.check(pool);
    // A2 against the model: the pool's free lists and held buffers are exactly the model's.
    Map<Long, Set<DeviceBuffer>> everyFree = allFree();
    Set<DeviceBuffer> modelFree = identitySet();
    everyFree.values().forEach(modelFree::addAll);
    List<DeviceBuffer> poolFree = pool.audit().freeDeviceBuffers();
    check(poolFree.size() == modelFree.size(), "A2: free lists hold " + poolFree.size()
        + " buffers, model " + modelFree.size());
    Set<DeviceBuffer> poolFreeSet = identitySet();
    poolFreeSet.addAll(poolFree);
    check(poolFreeSet.size() == poolFree.size(), "A2: a device buffer is on a free list twice");
    check(poolFreeSet.equals(modelFree), "A2: free lists differ from the model");
    Set<DeviceBuffer> poolHeld = identitySet();
    poolHeld.addAll(pool.audit().heldDeviceBuffers());
    check(poolHeld.equals(held), "A2: held buffers differ from the model");
    // R2: the registrar holds exactly what the pool holds, each registered once.
    check(registrar.breaches().isEmpty(), "R2: " + registrar.breaches());
    check(registrar.registered().equals(held), "R2: registered buffers differ from the held ones");
    check(registrar.registrations() - registrar.deregistrations() == held.size(),
        "R2: " + registrar.registrations() + " registrations less " + registrar.deregistrations()
            + " deregistrations for " + held.size() + " held buffers");
    // S1: what waits in each stream's lane is exactly the model's, and counts as waiting.
    long laneCount = 0;
    long laneBytes = 0;
    for (TestStream st : streams) {
      Set<DeviceBuffer> inLane = identitySet();
      inLane.addAll(pool.audit().streamDeviceBuffers(st));
      check(inLane.equals(lanes.blocksOf(st)), "S1: " + st + "'s lane differs from the model");
      check(java.util.Collections.disjoint(inLane, modelFree), "S1: a buffer is in a lane and free for all");
      check(st.violations().isEmpty(), "fences: " + st.violations());
    }
    for (Map.Entry<Long, Set<DeviceBuffer>> e : lanes.all().entrySet()) {
      laneCount += e.getValue().size();
      laneBytes += e.getKey() * e.getValue().size();
    }
    // A1: live handles are distinct, not free, and their byte ranges never overlap.
    Set<DeviceBuffer> liveRaw = identitySet();
    List<long[]> ranges = new ArrayList<>();
    for (Live l : live) {
      check(l.handle.isValid(), "A3: a live handle reports stale");
      check(liveRaw.add(l.raw), "A1: two live handles share a device buffer");
      check(!modelFree.contains(l.raw), "A1: a live buffer is also on a free list");
      // Byte ranges by host address where the memory has one (a native handle such as an
      // MTLBuffer id is an object, not an address); identity is checked above for all.
      if (l.raw.hostAddress() != 0) {
        ranges.add(new long[] {l.raw.hostAddress(), l.raw.hostAddress() + l.capacity});
      }
    }
    ranges.sort((a, b) -> Long.compare(a[0], b[0]));
    for (int i = 1; i < ranges.size(); i++) {
      check(ranges.get(i)[0] >= ranges.get(i - 1)[1], "A1: two live buffers overlap");
    }
    // A3: every stale handle fails.
    for (Dead d : stale) {
      check(!d.handle().isValid(), "A3: a handle that died by " + d.how() + " reports valid");
    }
    // C1: counts and byte totals.
    long freeBytes = 0;
    for (Map.Entry<Long, Set<DeviceBuffer>> e : everyFree.entrySet()) {
      freeBytes += e.getKey() * e.getValue().size();
    }
    long activeBytes = live.stream().mapToLong(l -> l.capacity).sum();
    long requested = live.stream().mapToLong(l -> l.requested).sum();
    PoolStats s = pool.stats();
    check(pool.freeCount() == modelFree.size(), "C1: freeCount");
    check(pool.freeBytes() == freeBytes, "C1: freeBytes " + pool.freeBytes() + " != " + freeBytes);
    check(pool.inUseCount() == live.size(), "C1: inUseCount " + pool.inUseCount() + " != " + live.size());
    check(s.activeBytes() == activeBytes, "C1: activeBytes");
    check(s.requestedBytes() == requested, "C1: requestedBytes");
    check(s.heldBytes() == activeBytes + freeBytes + laneBytes, "C1: heldBytes");
    check(s.deferredCount() == laneCount && s.deferredBytes() == laneBytes, "C1: waiting "
        + s.deferredCount() + "/" + s.deferredBytes() + ", model " + laneCount + "/" + laneBytes);
    check(s.allocations() == allocations, "C1: allocations " + s.allocations() + " != " + allocations);
    check(s.freshAllocations() == fresh, "C1: freshAllocations");
    check(s.reuseHits() == hits, "C1: reuseHits");
    check(s.lockedAllocations() == locked, "C1: lockedAllocations " + s.lockedAllocations()
        + ", model " + locked + " (the model takes from a scope's reserve exactly when it has the bucket)");
    check(s.deviceFrees() == deviceFrees, "C1: deviceFrees");
    check(s.oomRetries() == oomRetries, "C1: oomRetries");
    // R1: residency membership and commits.
    ResidencyProbe r = harness.residency();
    if (residency && r != null) {
      for (DeviceBuffer b : held) {
        check(r.contains(b), "R1: a held buffer is not resident");
      }
      check(r.size() == held.size() + owned.size(), "R1: residency set has " + r.size()
          + " members, model " + (held.size() + owned.size()));
      check(s.residencyCommits() == commits, "R1: " + s.residencyCommits() + " commits, model " + commits);
      check(r.isClean(), "R1: a call left residency changes uncommitted");
      if (s.residencyCommits() > 0) {
        events.add("residency commit");
      }
    }
  }

  /** Closes everything the run made; the device must then hold nothing of the pool's. */
  void finish() {
    pool.close();
    for (Buffer b : owned) {
      b.close();
    }
    check(harness.liveAllocations() == 0, "leaked " + harness.liveAllocations() + " device allocations");
    for (TestStream st : streams) {
      check(st.violations().isEmpty(), "fences: " + st.violations());
      check(st.openFences() == 0, st + ": " + st.openFences() + " fences never closed");
    }
  }

  @Override
  public String toString() {
    return "PoolMachine[" + device.name() + ", live " + live.size() + ", free " + free + "]";
  }
}
