package dev.mlxarena;

import java.util.ArrayList;
import java.util.List;

/**
 * One round of polling the fences the pool waits on: taken under the lock (the waits are marked
 * {@link Waiting#polling}), run without it ({@link #run(ClosedFences)}), applied under it again by
 * the rooms that keep the waits ({@link FenceQueue#apply}, {@link StreamLanes#apply}). The rooms
 * fill and apply the parts they own; the round only holds them between the two locked steps.
 *
 * <p>Fences of callers ({@code closeAfter}, {@code release(buffer, fence)}) may complete in any
 * order, so each is polled. Fences recorded on a stream are polled as {@link StreamLanes.Taken}
 * says: oldest first, up to the first that has not completed.
 */
final class FencePoll {
  /** The callers' fences taken from the fence queue. */
  final List<FenceQueue.Entry> users = new ArrayList<>();
  /** The stream lanes taken. */
  final StreamLanes.Taken lanes = new StreamLanes.Taken();

  boolean isEmpty() {
    return users.isEmpty() && lanes.isEmpty();
  }

  /**
   * Calls the fences, on the calling thread, which must not hold the pool's lock; a caller's fence
   * that the pool closed already (it was handed back again meanwhile) counts as it ended.
   */
  void run(ClosedFences closed) {
    for (Waiting w : users) {
      byte known = closed.outcome(w.fence);
      if (known == Waiting.UNKNOWN) {
        w.poll();
      } else {
        w.ended(known);
      }
    }
    lanes.poll();
  }
}
