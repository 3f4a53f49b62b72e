/**
 * The decode demo: a small decoder-only transformer generating tokens greedily through {@link
 * dev.mlxarena.reactive.DecodeLoop}, pooled and unpooled, on any backend.
 */
@NullMarked
package dev.mlxarena.examples.demo;

import org.jspecify.annotations.NullMarked;
