package dev.mlxarena.examples.demo;

import dev.mlxarena.Buffer;
import dev.mlxarena.DType;

/** Where one token's temporary buffers come from: a token scope, or the device directly. */
interface Scratch {
  /** A zero-or-reused F32 buffer of {@code elements} floats; the caller overwrites all it reads. */
  Buffer floats(long elements);

  /** A small I32 parameter block, as a kernel launch would pass. */
  Buffer params(int... values);
}
