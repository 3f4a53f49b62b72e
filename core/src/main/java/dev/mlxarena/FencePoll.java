package dev.mlxarena;

import java.util.ArrayList;
import java.util.List;

/**
 * One round of polling the fences the pool waits on: taken under the lock (the waits are marked
 * {@link Waiting#polling}), run without it ({@link #run(ClosedFences)}), applied under it again by the rooms
 * that keep the waits ({@code FenceQueue#apply}, {@code StreamLanes#apply}).
 *
 * <p>Fences of callers ({@code closeAfter}, {@code release(buffer, fence)}) may complete in any
 * order, so each is polled. Fences recorded on one stream complete in the order they were
 * recorded, so a lane is polled oldest first and the round stops at the first fence that has not
 * completed (or failed): the rest cannot have completed before it, and a stream the device has not
 * caught up with costs one call per round.
 */
final class FencePoll {
  final List<FenceQueue.Entry> users = new ArrayList<>();
  /** Per stream, the lane's entries oldest first. */
  final List<StreamLanes.Entry[]> lanes = new ArrayList<>();
  /** The lanes taken, to hand back to the next round. */
  final List<StreamLanes.Lane> polledLanes = new ArrayList<>();

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
    for (StreamLanes.Entry[] lane : lanes) {
      for (StreamLanes.Entry e : lane) {
        if (e.poll() != Waiting.COMPLETE) {
          break;
        }
      }
    }
  }
}
