package dev.mlxarena;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The free buffers reserved for one scope: the previous token's buffers, kept as a tape in the
 * order they were allocated, plus per-bucket stacks.
 *
 * <h2>Why a tape</h2>
 * A decode step asks for the same sizes in the same order token after token. So when a scope
 * closes, its record of issued buffers (in allocation order, compacted) becomes the tape of the
 * reserve it parks, and the next scope takes the tape's head whenever its bucket matches: a load
 * and a compare, no stack push at close and no pop at allocation. On the first request that does not
 * match, the rest of the tape is indexed by bucket instead, and allocation continues from it.
 *
 * <h2>Why an index, not a spill, when a token leaves the tape's order</h2>
 * Real tokens leave the order: a context that grows, routing that varies, a dynamic graph. The
 * tape's unconsumed entries then become one chain per bucket, linked through {@link #next} by tape
 * index: building and following the chains stores only {@code int}s. Moving the entries into the
 * stacks instead would store a reference per block into a long-lived array, and under G1 each such
 * store is a card mark behind a store-load fence, which cost as much as the rest of the
 * allocation. The stacks hold what is left of older tapes, blocks put back, and the chains' blocks
 * once a non-owner spills them.
 *
 * <p>Only the scope that owns a reserve reads its tape in order. Anyone else (allocation under the
 * pool's lock from a parked reserve, eviction, statistics) goes through methods that spill first
 * or only look, so a block is never taken twice. Owned by one scope's thread while the scope is
 * open, by the closing thread while the scope is handed back into it, and guarded by the pool's
 * lock while parked.
 */
final class Reserve {
  private static final Block[] NO_TAPE = {};
  private static final int[] NO_LINKS = {};

  private final BlockStack[] stacks;
  /**
   * Tape entries {@code [pos, len)} are FREE blocks of this reserve, in allocation order; while
   * {@link #chained}, the unconsumed entries are those on the chains instead and {@code pos ==
   * len}.
   */
  Block[] tape = NO_TAPE;
  int pos;
  int len;
  /** Whether the tape's unconsumed entries are on the chains of {@link #head}. */
  private boolean chained;
  /** Per bucket, the tape index of its chain's first entry, or {@code -1}: valid while chained. */
  private final int[] head;
  /** Per tape index, the next entry of the same bucket's chain, or {@code -1}. */
  private int[] next = NO_LINKS;
  /** The buckets a scope's close recycled into this reserve, until they are stamped as used. */
  final long[] recycledBuckets;
  /** The thread that parked this reserve, while it is parked (see {@code FreeLists#adopt}). */
  @Nullable Thread parkedBy;
  /**
   * The record arrays of the scope that handed this reserve back, for the next scope that adopts
   * it (see {@code OpenScopes#remove}), or {@code null}: both set or both null.
   */
  Block @Nullable [] recordBlocks;
  long @Nullable [] recordGenerations;
  /** The blocks and bytes here, as {@link #recount()} last found them (for a stream's lane). */
  int size;
  long bytes;

  Reserve(int buckets) {
    this.stacks = new BlockStack[buckets];
    this.head = new int[buckets];
    this.recycledBuckets = new long[(buckets + 63) >>> 6];
  }

  /**
   * The owner's allocation: the tape's head if it fits, else its bucket's chain, else a stack;
   * {@code null} if none.
   */
  @Nullable Block take(int bucket) {
    if (pos < len) {
      Block b = tape[pos];
      if (b.bucket == bucket) {
        pos++;
        return b;
      }
      chain();
    }
    if (chained) {
      int j = head[bucket];
      if (j >= 0) {
        head[bucket] = next[j];
        return tape[j];
      }
    }
    BlockStack s = stacks[bucket];
    return s == null ? null : s.pop();
  }

  /** Links the tape's unconsumed entries into one chain per bucket, in tape order. */
  private void chain() {
    if (next.length < len) {
      next = new int[tape.length];
    }
    Arrays.fill(head, -1);
    for (int i = len - 1; i >= pos; i--) {
      int bucket = tape[i].bucket;
      next[i] = head[bucket];
      head[bucket] = i;
    }
    pos = len;
    chained = true;
  }

  /** Moves what is left of the tape, in order or on the chains, into the stacks. */
  void spill() {
    for (int i = pos; i < len; i++) {
      push(tape[i]);
    }
    pos = len;
    if (chained) {
      for (int bucket = 0; bucket < head.length; bucket++) {
        for (int j = head[bucket]; j >= 0; j = next[j]) {
          push(tape[j]);
        }
        head[bucket] = -1;
      }
      chained = false;
    }
  }

  /** Keeps a closed scope's record arrays (empty of entries) for the next scope to adopt this. */
  void keepRecord(Block[] blocks, long[] generations) {
    recordBlocks = blocks;
    recordGenerations = generations;
  }

  /** The kept record's block array, given up to the caller; only while one is kept. */
  Block[] takeRecordBlocks() {
    Block[] b = requireNonNull(recordBlocks);
    recordBlocks = null;
    return b;
  }

  /** The kept record's generation array, given up to the caller; only while one is kept. */
  long[] takeRecordGenerations() {
    long[] g = requireNonNull(recordGenerations);
    recordGenerations = null;
    return g;
  }

  /** Adds a block to the stacks. */
  void push(Block b) {
    BlockStack.push(stacks, b);
  }

  /**
   * Replaces the tape with {@code blocks[0, count)}, spilling what was left of the old one, and
   * returns the old tape's array for reuse.
   */
  Block[] newTape(Block[] blocks, int count) {
    spill();
    Block[] old = tape;
    tape = blocks;
    pos = 0;
    len = count;
    return old;
  }

  boolean isEmpty() {
    if (pos < len) {
      return false;
    }
    for (int i = 0; chained && i < head.length; i++) {
      if (head[i] >= 0) {
        return false;
      }
    }
    for (BlockStack s : stacks) {
      if (s != null && s.size() > 0) {
        return false;
      }
    }
    return true;
  }

  /** Counts the blocks and bytes here into {@link #size} and {@link #bytes}. */
  void recount() {
    int n = len - pos;
    long total = 0;
    for (int i = pos; i < len; i++) {
      total += tape[i].capacity;
    }
    for (int bucket = 0; chained && bucket < head.length; bucket++) {
      for (int j = head[bucket]; j >= 0; j = next[j]) {
        n++;
        total += tape[j].capacity;
      }
    }
    for (BlockStack s : stacks) {
      if (s != null && s.size() > 0) {
        n += s.size();
        total += s.size() * s.get(0).capacity; // a stack holds one bucket
      }
    }
    size = n;
    bytes = total;
  }

  /** The free blocks of {@code bucket} here. */
  int count(int bucket) {
    int n = stacks[bucket] == null ? 0 : stacks[bucket].size();
    for (int i = pos; i < len; i++) {
      n += tape[i].bucket == bucket ? 1 : 0;
    }
    for (int j = chained ? head[bucket] : -1; j >= 0; j = next[j]) {
      n++;
    }
    return n;
  }

  /** Visits every block without removing it. */
  void forEach(Consumer<Block> visitor) {
    for (int i = pos; i < len; i++) {
      visitor.accept(tape[i]);
    }
    for (int bucket = 0; chained && bucket < head.length; bucket++) {
      for (int j = head[bucket]; j >= 0; j = next[j]) {
        visitor.accept(tape[j]);
      }
    }
    BlockStack.forEach(stacks, visitor);
  }

  /** Removes every block, handing each to {@code sink}. */
  void drain(Consumer<Block> sink) {
    spill();
    BlockStack.drain(stacks, sink);
  }

  /** For a non-owner under the pool's lock: a block of {@code bucket}, the tape spilled first. */
  @Nullable Block popSpilled(int bucket) {
    spill();
    BlockStack s = stacks[bucket];
    return s == null ? null : s.pop();
  }
}
