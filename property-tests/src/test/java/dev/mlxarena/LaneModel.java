package dev.mlxarena;

import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.testing.TestStream;
import dev.mlxarena.testing.TestStream.TestFence;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The model of the pool's stream lanes (S1): per stream, in the order the pool first saw it, its
 * hand-backs oldest first, each the fence recorded on the stream after it and the free buffers it
 * returned, by bucket capacity. The stream may take them at once; everyone else once a poll has
 * seen the fence complete, which moves the hand-back to the free lists: a scope's whole reserve is
 * parked, loose buffers go to the global lists.
 */
final class LaneModel {
  /** One hand-back on a stream. */
  static final class Entry {
    final TestFence fence;
    final Map<Long, Set<DeviceBuffer>> blocks;
    /** A scope's close parked it: a later scope on the stream adopts it. */
    final boolean byScope;

    Entry(TestFence fence, Map<Long, Set<DeviceBuffer>> blocks, boolean byScope) {
      this.fence = fence;
      this.blocks = blocks;
      this.byScope = byScope;
    }

    boolean isEmpty() {
      return blocks.values().stream().allMatch(Set::isEmpty);
    }
  }

  private final Map<TestStream, List<Entry>> lanes = new LinkedHashMap<>();

  /** A hand-back on {@code stream}; beyond the lane limit, the oldest joins the next one. */
  void add(TestStream stream, Entry e, Set<String> events) {
    List<Entry> lane = lanes.computeIfAbsent(stream, s -> new ArrayList<>());
    lane.add(e);
    if (lane.size() > StreamLanes.LANE_LIMIT) {
      Entry oldest = lane.remove(0);
      oldest.blocks.forEach((cap, set) -> lane.get(0).blocks.computeIfAbsent(cap, k -> PoolMachine.identitySet()).addAll(set));
      events.add("lane merged");
    }
  }

  /** The newest hand-back a scope's close parked on {@code stream}, now the adopting scope's. */
  @Nullable Entry adopt(TestStream stream) {
    List<Entry> lane = lanes.getOrDefault(stream, List.of());
    for (int i = lane.size() - 1; i >= 0; i--) {
      if (lane.get(i).byScope) {
        return lane.remove(i);
      }
    }
    return null;
  }

  /** The set a scope on {@code stream} takes a block of {@code cap} from, newest first; else empty. */
  Set<DeviceBuffer> source(TestStream stream, long cap) {
    List<Entry> lane = lanes.getOrDefault(stream, List.of());
    for (int i = lane.size() - 1; i >= 0; i--) {
      Set<DeviceBuffer> s = lane.get(i).blocks.get(cap);
      if (s != null && !s.isEmpty()) {
        return s;
      }
    }
    return PoolMachine.identitySet();
  }

  /** Drops the hand-backs allocations emptied, as the pool's sweep does. */
  void sweep() {
    lanes.values().forEach(lane -> lane.removeIf(Entry::isEmpty));
  }

  boolean isEmpty() {
    return lanes.values().stream().allMatch(List::isEmpty);
  }

  /**
   * A poll round: per lane, oldest first, every hand-back whose fence completed leaves, up to the
   * first that has not; a scope's reserve goes to {@code park}, loose buffers to {@code global}.
   */
  void collect(Consumer<Map<Long, Set<DeviceBuffer>>> park, Map<Long, Set<DeviceBuffer>> global, Set<String> events) {
    for (List<Entry> lane : lanes.values()) {
      while (!lane.isEmpty() && lane.get(0).fence.reached()) {
        Entry e = lane.remove(0);
        if (e.byScope && !e.isEmpty()) {
          park.accept(e.blocks);
        } else {
          e.blocks.forEach((cap, set) -> global.computeIfAbsent(cap, k -> PoolMachine.identitySet()).addAll(set));
        }
        events.add("lane collected");
      }
    }
  }

  /** Every buffer waiting in {@code stream}'s lane. */
  Set<DeviceBuffer> blocksOf(TestStream stream) {
    Set<DeviceBuffer> out = PoolMachine.identitySet();
    for (Entry e : lanes.getOrDefault(stream, List.of())) {
      e.blocks.values().forEach(out::addAll);
    }
    return out;
  }

  /** Every buffer waiting in any lane, by capacity. */
  Map<Long, Set<DeviceBuffer>> all() {
    Map<Long, Set<DeviceBuffer>> out = new TreeMap<>();
    for (List<Entry> lane : lanes.values()) {
      for (Entry e : lane) {
        e.blocks.forEach((cap, set) -> out.computeIfAbsent(cap, k -> PoolMachine.identitySet()).addAll(set));
      }
    }
    return out;
  }
}
