package dev.mlxarena;

/**
 * Who takes the memory behind a handle back when the handle is closed ({@link Buffer#close()}):
 * the scope that issued a pooled handle ({@link ScopeState}, which hands it to its pool), or an
 * owned buffer's {@link OwnedBuffer}. Every handle carries its recycler, so a {@link Block}, the
 * record of the memory, knows nothing above itself.
 */
interface Recycler {
  /** Hands back the lease of {@code block} issued at {@code generation}; a no-op if it has ended. */
  void handBack(Block block, long generation);
}
