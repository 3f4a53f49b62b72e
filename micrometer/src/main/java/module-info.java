/**
 * Micrometer metrics for mlx-arena: {@link dev.mlxarena.micrometer.BufferPoolMetrics} binds a
 * pool's statistics to a {@code MeterRegistry}. Micrometer is the application's own (this artifact
 * depends on it as {@code provided}), read here as its automatic module {@code micrometer.core}.
 */
module dev.mlxarena.micrometer {
  requires transitive dev.mlxarena.core;
  requires transitive micrometer.core; // MeterRegistry, MeterBinder and Tags appear in this API
  requires static org.jspecify;

  exports dev.mlxarena.micrometer;
}
