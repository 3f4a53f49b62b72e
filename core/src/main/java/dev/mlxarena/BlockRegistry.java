package dev.mlxarena;

import java.util.Arrays;

/**
 * Every block a pool holds, live or free, in a dense array with swap-remove: O(1) to add and to
 * remove, and the one place that can enumerate all device memory the pool must give back on
 * close. Each block knows its own index. Guarded by the pool's lock.
 */
final class BlockRegistry {
  private Block[] blocks = new Block[64];
  private int size;

  void add(Block b) {
    if (size == blocks.length) {
      blocks = Arrays.copyOf(blocks, size * 2);
    }
    b.registryIndex = size;
    blocks[size++] = b;
  }

  void remove(Block b) {
    int i = b.registryIndex;
    Block last = blocks[--size];
    blocks[i] = last;
    last.registryIndex = i;
    Slots.clear(blocks, size);
    b.registryIndex = -1;
  }

  int size() {
    return size;
  }

  Block get(int i) {
    return blocks[i];
  }
}
