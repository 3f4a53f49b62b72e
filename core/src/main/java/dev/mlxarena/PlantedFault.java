package dev.mlxarena;

/**
 * Faults planted on purpose, for the mutation check of the property suite alone: it switches one
 * on and asserts that the properties then fail, which proves they can. {@link #NONE} in every
 * other use; nothing public reaches this.
 */
enum PlantedFault {
  NONE,
  /** Recycling pushes a buffer on its free list twice. */
  DOUBLE_PUSH,
  /** {@code reset()} returns buffers to the free lists without making their handles stale. */
  RESET_KEEPS_HANDLES_LIVE,
  /** Fresh device allocations are handed out without zero-fill. */
  FRESH_NOT_ZEROED,
  /** Calls that change the residency set do not commit it. */
  NO_RESIDENCY_COMMIT;

  /** The fault in force. Plain static: read on slow paths and once per recycle. */
  static PlantedFault active = NONE;
}
