/**
 * Micrometer metrics for mlx-arena: {@link dev.mlxarena.micrometer.BufferPoolMetrics} binds a
 * {@link dev.mlxarena.BufferPool}'s statistics to a {@code MeterRegistry}.
 */
@NullMarked
package dev.mlxarena.micrometer;

import org.jspecify.annotations.NullMarked;
