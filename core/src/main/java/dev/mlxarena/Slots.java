package dev.mlxarena;

/**
 * Clears one slot of the pool's array-backed stacks and records (free lists, the block registry,
 * parked reserves, scope records and their stash). Their arrays are typed with non-null elements
 * because every slot below the owner's count holds one; a slot at or past the count is cleared so
 * that the array keeps no dead object reachable, and nothing reads it before a push fills it
 * again. NullAway cannot see that invariant, so the one write of null it forbids lives here.
 */
final class Slots {
  private Slots() {}

  @SuppressWarnings("NullAway") // a cleared slot lies at or past its owner's count: never read
  static <T> void clear(T[] array, int index) {
    array[index] = null;
  }
}
