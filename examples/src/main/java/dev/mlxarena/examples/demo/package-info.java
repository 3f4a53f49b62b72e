/**
 * The decode demo: a small decoder-only transformer generating tokens greedily through {@link
 * dev.mlxarena.reactive.DecodeLoop}, pooled and unpooled, on any backend; on CUDA every op runs as
 * a GPU kernel on device memory ({@code GpuTransformer}: one kernel per op, or fused ops), in three
 * allocation modes, and a profile says where each token's time goes ({@code GpuProfile}).
 */
@NullMarked
package dev.mlxarena.examples.demo;

import org.jspecify.annotations.NullMarked;
