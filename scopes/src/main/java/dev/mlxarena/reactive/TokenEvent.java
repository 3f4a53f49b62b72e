package dev.mlxarena.reactive;

import dev.mlxarena.PoolStats;
import java.time.Duration;

/**
 * One generated token with what it cost, from {@link DecodeLoop#events()}.
 *
 * @param token the token
 * @param index its position, from 0
 * @param stepTime the wall time of the step, allocation and scope close included
 * @param poolDelta the pool's counters over the step ({@link PoolStats#since}): allocations,
 *     reuse hits and fresh device allocations as differences, byte figures as they stood after
 *     the token's scope closed. Pool-wide: exact when the loop has the pool to itself.
 */
public record TokenEvent<T>(T token, long index, Duration stepTime, PoolStats poolDelta) {}
