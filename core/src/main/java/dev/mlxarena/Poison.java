package dev.mlxarena;

import dev.mlxarena.spi.DeviceStream;
import org.jspecify.annotations.Nullable;

/**
 * Poisoning on recycle ({@link PoolOptions#isPoisonOnRecycle()}): a block returning to a free list
 * is filled with {@link PoolOptions#POISON} over its whole capacity, so that a kernel which reads
 * a buffer it no longer owns computes NaN instead of plausible numbers.
 *
 * <p>The fill is ordered like the hand-back: enqueued on the stream the block was handed back on,
 * before the fence that lets other streams and the host take it is recorded, so that the block's
 * own stream sees the pattern and nobody else can take the block before the fill has run; for a
 * stream-less hand-back the fill has happened when the call returns, before the block is filed.
 * It runs without the pool's lock, on the thread that hands the blocks back and owns them until it
 * files them. A failed fill does not stop the hand-back: the block is filed unpoisoned and the
 * first failure is reported once the hand-back is done.
 */
final class Poison {
  private Poison() {}

  /** Fills {@code b} with the pattern on {@code stream}; returns {@code failure} with any new one. */
  static @Nullable RuntimeException fill(
      Block b, @Nullable DeviceStream stream, @Nullable RuntimeException failure) {
    try {
      b.device.fillPattern(b.raw, 0, b.capacity, PoolOptions.POISON, stream);
    } catch (RuntimeException e) {
      return DeviceLedger.collect(failure, e);
    }
    return failure;
  }
}
