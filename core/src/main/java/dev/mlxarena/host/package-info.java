/** The host device: native host memory through JNA, the embedded default where no GPU is. */
@NullMarked
package dev.mlxarena.host;

import org.jspecify.annotations.NullMarked;
