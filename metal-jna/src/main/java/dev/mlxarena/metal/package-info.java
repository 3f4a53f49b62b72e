/**
 * The Metal backend: {@link dev.mlxarena.metal.MetalDevice} and {@link
 * dev.mlxarena.metal.MetalResidencySet} over the {@code mlxshim} C ABI, bound through JNA. The
 * same Java path drives real Metal on macOS and the portable simulation shim everywhere else.
 */
@NullMarked
package dev.mlxarena.metal;

import org.jspecify.annotations.NullMarked;
