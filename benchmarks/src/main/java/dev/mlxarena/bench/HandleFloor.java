package dev.mlxarena.bench;

import org.openjdk.jmh.infra.Blackhole;

/**
 * The floor of a pool that hands out a fresh stale-safe handle per allocation: the bare
 * array-stack free list of {@code ArenaCycleBenchmark.arrayStackFloor}, plus one new handle per
 * allocation laid out as {@code dev.mlxarena.Buffer} is (a block reference, a {@code long}
 * generation and two more references: 32 bytes with compressed pointers), consumed as the pool's
 * handles are. No pool returning a new handle object per allocation can be faster than this on
 * the same machine: the difference between the two floors is what the handle's allocation costs,
 * in the allocation itself and in the garbage collector.
 */
final class HandleFloor {
  /** What a handle holds, in {@code Buffer}'s layout. */
  static final class Handle {
    final Object block;
    final long generation;
    final Object recycler;
    final Object view;

    Handle(Object block, long generation, Object recycler, Object view) {
      this.block = block;
      this.generation = generation;
      this.recycler = recycler;
      this.view = view;
    }
  }

  private final long[][] stacks = new long[64][];
  private final int[] stackTops = new int[64];
  private final int[] bucketOf;
  private final int[] taken;
  private final Object[] blocks;
  private final Object recycler = new Object();
  private final Object noView = new Object();

  /** One block per allocation of {@code sizes}, each free in its power-of-two bucket's stack. */
  HandleFloor(long[] sizes) {
    bucketOf = new int[sizes.length];
    taken = new int[sizes.length];
    blocks = new Object[sizes.length];
    for (int b = 0; b < stacks.length; b++) {
      stacks[b] = new long[sizes.length];
    }
    for (int i = 0; i < sizes.length; i++) {
      int b = 64 - Long.numberOfLeadingZeros(sizes[i] - 1);
      bucketOf[i] = b;
      stacks[b][stackTops[b]++] = i;
      blocks[i] = new Object();
    }
  }

  /** One token: a block and a new handle per allocation, then every block back on its stack. */
  void token(Blackhole bh) {
    for (int i = 0; i < bucketOf.length; i++) {
      int b = bucketOf[i];
      int block = (int) stacks[b][--stackTops[b]];
      taken[i] = block;
      bh.consume(new Handle(blocks[block], block, recycler, noView));
    }
    for (int i = 0; i < bucketOf.length; i++) {
      int b = bucketOf[i];
      stacks[b][stackTops[b]++] = taken[i];
    }
  }
}
