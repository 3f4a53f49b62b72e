/** Small, runnable examples of the mlx-arena API. */
@NullMarked
package dev.mlxarena.examples;

import org.jspecify.annotations.NullMarked;
