/**
 * mlx-arena: an arena-style buffer pool for GPU (and host) memory.
 *
 * <p>The entry points are {@link dev.mlxarena.BufferPool} (power-of-two or finer size buckets
 * with free-list reuse), {@link dev.mlxarena.Scope} (one arena cycle, usually one decoded token,
 * recycled on {@code close()}), and {@link dev.mlxarena.Buffer} (a typed handle that fails with
 * {@link dev.mlxarena.StaleBufferException} once the memory behind it may have been reused).
 * Backends implement the {@link dev.mlxarena.spi.Device} SPI (package {@code dev.mlxarena.spi}); {@link dev.mlxarena.Devices#systemDefault()}
 * picks the best one available.
 */
@NullMarked
package dev.mlxarena;

import org.jspecify.annotations.NullMarked;
