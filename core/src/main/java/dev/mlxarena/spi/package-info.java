/**
 * The backend service provider interface: what a device backend (host memory, Metal, CUDA, a
 * simulation) implements and registers. A backend implements {@link dev.mlxarena.spi.Device} (raw
 * allocations as {@link dev.mlxarena.spi.DeviceBuffer}s, frees, fills and copies, optionally a
 * {@link dev.mlxarena.spi.ResidencySet}) and announces itself with a {@link
 * dev.mlxarena.spi.DeviceProvider}.
 *
 * <p>This package sits below the pool: nothing in it knows the pool, scopes or free lists. It uses
 * only the few API types a device's signatures name ({@code Buffer}, {@code DType}, {@code
 * DeviceStream} and the exceptions).
 */
@NullMarked
package dev.mlxarena.spi;

import org.jspecify.annotations.NullMarked;
