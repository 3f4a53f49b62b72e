package dev.mlxarena;

import org.jspecify.annotations.Nullable;

/**
 * One bucket's free list: an array-backed LIFO stack. The most recently freed buffer is reused
 * first, because its pages are the likeliest to still be warm in caches and TLBs. Guarded by the
 * pool's lock.
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
    items[size] = null;
    return b;
  }

  int size() {
    return size;
  }

  Block get(int i) {
    return items[i];
  }
}
