package dev.mlxarena;

import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The callers' fences a pool has closed, remembered weakly and by identity together with how they
 * ended, so that {@link Fence#close()} is called once however many hand-backs name the fence, even
 * one made after the pool closed it: such a fence is neither polled nor closed again, and counts as
 * it ended (complete, or failed).
 *
 * <p>By identity ({@link System#identityHashCode}), so that no {@code equals} or {@code hashCode}
 * of the caller's runs; weakly, so that a fence the caller drops is forgotten. Thread-safe through
 * its own monitor, which is taken without the pool's lock and around no foreign code.
 */
final class ClosedFences {
  private static final class Ref extends WeakReference<Fence> {
    final int hash;
    final byte outcome;

    Ref(Fence fence, byte outcome, ReferenceQueue<Fence> queue) {
      super(fence, queue);
      this.hash = System.identityHashCode(fence);
      this.outcome = outcome;
    }
  }

  private final ReferenceQueue<Fence> forgotten = new ReferenceQueue<>();
  private final Map<Integer, List<Ref>> byHash = new HashMap<>();

  /** How {@code fence} ended if this pool closed it ({@link Waiting#COMPLETE} or {@link Waiting#FAILED}), else {@link Waiting#UNKNOWN}. */
  synchronized byte outcome(Fence fence) {
    purge();
    List<Ref> refs = byHash.get(System.identityHashCode(fence));
    for (int i = 0; refs != null && i < refs.size(); i++) {
      if (refs.get(i).get() == fence) {
        return refs.get(i).outcome;
      }
    }
    return Waiting.UNKNOWN;
  }

  /** Notes that {@code fence} is being closed, having ended so; {@code false} if it was already. */
  synchronized boolean markClosed(Fence fence, byte outcome) {
    if (outcome(fence) != Waiting.UNKNOWN) {
      return false;
    }
    Ref r = new Ref(fence, outcome, forgotten);
    byHash.computeIfAbsent(r.hash, h -> new ArrayList<>(1)).add(r);
    return true;
  }

  private void purge() {
    for (Object gone = forgotten.poll(); gone != null; gone = forgotten.poll()) {
      Ref r = (Ref) gone;
      List<Ref> refs = byHash.get(r.hash);
      if (refs != null && refs.remove(r) && refs.isEmpty()) {
        byHash.remove(r.hash);
      }
    }
  }
}
