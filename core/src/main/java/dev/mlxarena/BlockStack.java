package dev.mlxarena;

import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * One bucket's free list: an array-backed LIFO stack. The most recently freed buffer is reused
 * first, because its pages are the likeliest to still be warm in caches and TLBs. The static
 * methods work on an array of stacks indexed by bucket, as {@code FreeLists} and {@code Reserve}
 * keep them. Guarded by whoever owns the stack: the pool's lock, or a reserve's scope thread.
 */
final class BlockStack {
  private Block[] items = new Block[8];
  private int size;

  void push(Block b) {
    if (size == items.length) {
      Block[] grown = new Block[size * 2];
      System.arraycopy(items, 0, grown, 0, size);
      items = grown;
    }
    items[size++] = b;
  }

  @Nullable Block pop() {
    if (size == 0) {
      return null;
    }
    Block b = items[--size];
    Slots.clear(items, size);
    return b;
  }

  int size() {
    return size;
  }

  Block get(int i) {
    return items[i];
  }

  /** Pushes {@code b} on the stack of its bucket in {@code lists}, creating it if needed. */
  static void push(BlockStack[] lists, Block b) {
    BlockStack s = lists[b.bucket];
    if (s == null) {
      s = new BlockStack();
      lists[b.bucket] = s;
    }
    s.push(b);
  }

  /** Empties every stack of {@code lists}, handing each block to {@code sink}. */
  static void drain(BlockStack[] lists, Consumer<Block> sink) {
    for (BlockStack s : lists) {
      for (Block b = s == null ? null : s.pop(); b != null; b = s.pop()) {
        sink.accept(b);
      }
    }
  }

  /** Visits the blocks of {@code lists}, bucket by bucket, without taking them. */
  static void forEach(BlockStack[] lists, Consumer<Block> visitor) {
    for (BlockStack s : lists) {
      for (int i = 0; s != null && i < s.size(); i++) {
        visitor.accept(s.get(i));
      }
    }
  }
}
