package dev.mlxarena;

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
 * match, the rest of the tape spills into the stacks and allocation continues from them.
 *
 * <p>Only the scope that owns a reserve reads its tape in order. Anyone else (allocation under the
 * pool's lock from a parked reserve, eviction, statistics) goes through methods that spill first
 * or only look, so a block is never taken twice. Owned by one scope's thread while the scope is
 * open, by the closing thread while the scope is handed back into it, and guarded by the pool's
 * lock while parked.
 */
final class Reserve {
  private static final Block[] NO_TAPE = {};

  private final BlockStack[] stacks;
  /** Tape entries {@code [pos, len)} are FREE blocks of this reserve, in allocation order. */
  Block[] tape = NO_TAPE;
  int pos;
  int len;
  /** The buckets a scope's close recycled into this reserve, until they are stamped as used. */
  final long[] recycledBuckets;
  /** The thread that parked this reserve, while it is parked (see {@code FreeLists#adopt}). */
  @Nullable Thread parkedBy;
  /** The blocks and bytes here, as {@link #recount()} last found them (for a stream's lane). */
  int size;
  long bytes;

  Reserve(int buckets) {
    this.stacks = new BlockStack[buckets];
    this.recycledBuckets = new long[(buckets + 63) >>> 6];
  }

  /** The owner's allocation: the tape's head if it fits, else a stack; {@code null} if none. */
  @Nullable Block take(int bucket) {
    if (pos < len) {
      Block b = tape[pos];
      if (b.bucket == bucket) {
        pos++;
        return b;
      }
      spill();
    }
    BlockStack s = stacks[bucket];
    return s == null ? null : s.pop();
  }

  /** Moves what is left of the tape into the stacks. */
  void spill() {
    for (int i = pos; i < len; i++) {
      push(tape[i]);
    }
    pos = len;
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
    return n;
  }

  /** Visits every block without removing it. */
  void forEach(Consumer<Block> visitor) {
    for (int i = pos; i < len; i++) {
      visitor.accept(tape[i]);
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
