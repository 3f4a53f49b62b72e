/**
 * The backend service provider interface: what a device backend (host memory, Metal, CUDA, a
 * simulation) implements and registers. A backend implements {@link dev.mlxarena.spi.Device} (raw
 * allocations as {@link dev.mlxarena.spi.DeviceBuffer}s, frees, fills and copies, optionally a
 * {@link dev.mlxarena.spi.ResidencySet}), where its work runs asynchronously a {@link
 * dev.mlxarena.spi.DeviceStream} (users open scopes on it), and announces itself with a {@link
 * dev.mlxarena.spi.DeviceProvider}.
 *
 * <p>This package sits below the pool: nothing in it knows the pool, scopes or free lists. Of the
 * API it uses only {@code Fence}, which a stream records, and the exceptions a device throws.
 */
@NullMarked
package dev.mlxarena.spi;

import org.jspecify.annotations.NullMarked;
