package dev.mlxarena;

import dev.mlxarena.spi.DeviceStream;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Every hand-back from start to end, and the pool's work that must not run under its lock, each
 * piece between two short locked steps: closing a scope ({@link #closeScope}), releasing or closing
 * one buffer and resetting the default scope (the locked step in {@link HandBacks}), polling the
 * fences the pool waits on ({@link #poll()}, a {@link FencePoll} round), and finishing hand-backs
 * that a thread took out as a {@link Transit} ({@link #settle}): poisoning their blocks and
 * recording the fence of the stream they were handed back on, then filing them. Fences, devices
 * and streams are foreign code: a fence may block in a driver, or call back into the pool.
 *
 * <h2>Failures</h2>
 * A fence whose {@code isComplete()} throws, or a stream whose {@code recordFence()} throws, is
 * contained: the buffers behind it stay held out of reuse (counted as waiting) until the pool
 * closes, and the failure is thrown once, wrapped with those figures, from the pool call during
 * which it surfaced, after the pool has filed everything else: the pool stays consistent and keeps
 * working. A failed poison fill leaves its block unpoisoned but filed, and is thrown the same way.
 */
@SuppressWarnings("try") // try (Section held = section.enter()) holds the lock for a section
final class Settler {
  private final Section section;
  private final BooleanSupplier poolOpen;
  /** Throws {@link PoolClosedException} once the pool is closed; under the lock. */
  private final Runnable ensureOpen;
  private final HandBacks handBacks;
  private final FenceQueue fences;
  private final StreamLanes lanes;
  private final boolean poison;

  Settler(
      Section section,
      BooleanSupplier poolOpen,
      Runnable ensureOpen,
      HandBacks handBacks,
      FenceQueue fences,
      StreamLanes lanes,
      boolean poison) {
    this.section = section;
    this.poolOpen = poolOpen;
    this.ensureOpen = ensureOpen;
    this.handBacks = handBacks;
    this.fences = fences;
    this.lanes = lanes;
    this.poison = poison;
  }

  /**
   * Closes {@code scope} now, or once the caller's {@code fence} completes; a no-op if it is
   * closed. Polling {@code fence}, recycling the record ({@code HandBacks}), poisoning and
   * recording the fence of the scope's stream all run between two short locked steps, so that
   * scopes closing on many threads do not queue behind each other. A second close of the same
   * scope waits for the first to finish.
   */
  void closeScope(ScopeState scope, @Nullable Fence fence) {
    Waiting probe = fence == null || !scope.isOpen() ? null : fences.probe(fence);
    Reserve reserve = null;
    RuntimeException failure = null;
    try (Section held = section.enter()) {
      if (!scope.isOpen()) {
        return;
      }
      if (!scope.handingBack) { // else another thread is closing it: wait for it below
        if (probe != null && probe.result != Waiting.COMPLETE) {
          failure = handBacks.closeAfter(scope, probe);
          fences.release(probe);
        } else {
          reserve = handBacks.beginClose(scope, fence != null);
        }
      }
    }
    if (reserve != null) {
      failure = HandBacks.recycleInto(scope, reserve, poison);
      DeviceStream stream = scope.stream;
      Fence recorded = null;
      if (stream != null && reserve.size > 0) { // after the fills, so that it covers them
        try {
          recorded = stream.recordFence();
        } catch (RuntimeException e) {
          failure = either(failure, recordFailed(stream, reserve.size, reserve.bytes, e));
        }
      }
      try (Section held = section.enter()) {
        handBacks.endClose(scope, reserve, recorded, poolOpen.getAsBoolean());
        if (probe != null) {
          fences.release(probe);
        }
      }
    }
    scope.awaitClosed();
    if (failure != null) {
      throw failure;
    }
  }

  /** Hands {@code buffer}, issued through {@code issuer}, back now ({@link BufferPool#release}). */
  void release(Buffer buffer, ScopeState issuer) {
    Transit t;
    try (Section held = section.enter()) {
      ensureLive(buffer, issuer);
      t = handBacks.release(issuer, buffer.block, Block.DEATH_RELEASED);
    }
    settle(t);
  }

  /** Hands {@code buffer} back behind {@code fence} ({@link BufferPool#release(Buffer, Fence)}). */
  void releaseAfter(Buffer buffer, ScopeState issuer, Fence fence) {
    Waiting probe = fences.probe(fence); // without the lock
    Transit t;
    try (Section held = section.enter()) {
      ensureLive(buffer, issuer);
      t = handBacks.releaseAfter(issuer, buffer.block, probe);
    }
    if (probe.result == Waiting.FAILED) {
      throw probe.failureReport(1, buffer.block.capacity);
    }
    settle(t);
  }

  /**
   * {@link Buffer#close()} of a pooled handle: like release, but a stale handle is a no-op, and so
   * is one whose scope is being closed (the close recycles it).
   */
  void closeHandle(ScopeState issuer, Block b, long generation) {
    Transit t = null;
    try (Section held = section.enter()) {
      if (poolOpen.getAsBoolean() && !issuer.handingBack && b.generationAcquire() == generation
          && b.state == Block.LIVE) {
        t = handBacks.release(issuer, b, Block.DEATH_CLOSED);
      }
    }
    settle(t);
  }

  /** Ends the default scope's cycle ({@link BufferPool#reset()}). */
  void reset(ScopeState defaultScope) {
    Transit t;
    try (Section held = section.enter()) {
      ensureOpen.run();
      t = handBacks.reset(defaultScope);
    }
    settle(t);
  }

  /** Checks, under the lock, that the pool is open and {@code buffer}'s lease is current. */
  private void ensureLive(Buffer buffer, ScopeState issuer) {
    ensureOpen.run();
    HandBacks.requireLive(buffer, issuer);
  }

  /**
   * Polls the fences the pool waits on, without the lock, and applies what it learnt: the buffers
   * of completed fences become reusable by everyone; those of failed fences are held for good, and
   * the failures thrown. Every caller fence is polled; each stream's lane oldest first, up to the
   * first fence not complete.
   */
  void poll() {
    FencePoll round = new FencePoll();
    try (Section held = section.enter()) {
      fences.addTo(round.users);
      lanes.addTo(round.lanes);
    }
    if (round.isEmpty()) {
      return;
    }
    Transit out = new Transit();
    RuntimeException failure;
    try {
      round.run(fences.closed);
    } finally {
      try (Section held = section.enter()) {
        boolean open = poolOpen.getAsBoolean();
        failure = fences.apply(round.users, out, poison, open);
        failure = either(failure, lanes.apply(round.lanes, open));
      }
    }
    if (!out.isEmpty()) {
      failure = either(failure, finish(out));
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Finishes the hand-backs of {@code transit} (none if {@code null}); throws what failed, once. */
  void settle(@Nullable Transit transit) {
    RuntimeException failure = transit == null ? null : finish(transit);
    if (failure != null) {
      throw failure;
    }
  }

  /**
   * Poisons each group's blocks in its stream's order, records the stream's fence after that, then
   * files them under the lock: stream-less ones on the free lists, the others in their stream's
   * lane, or held for good if the fence could not be recorded. Returns what failed.
   */
  private @Nullable RuntimeException finish(Transit transit) {
    RuntimeException failure = null;
    List<Transit.Group> groups = transit.groups;
    Fence[] recorded = new Fence[groups.size()];
    for (int g = 0; g < groups.size(); g++) {
      Block[] blocks = groups.get(g).blocks();
      DeviceStream stream = groups.get(g).stream();
      for (int i = 0; poison && i < blocks.length; i++) {
        failure = Poison.fill(blocks[i], stream, failure);
      }
      if (stream != null) {
        try {
          recorded[g] = stream.recordFence();
        } catch (RuntimeException e) {
          failure = DeviceLedger.collect(failure, recordFailed(stream, blocks, e));
        }
      }
    }
    try (Section held = section.enter()) {
      boolean open = poolOpen.getAsBoolean();
      for (int g = 0; g < groups.size(); g++) {
        Block[] blocks = groups.get(g).blocks();
        DeviceStream stream = groups.get(g).stream();
        if (!open) { // the pool closed meanwhile and retired these blocks with the rest
          if (recorded[g] != null) {
            fences.closeLater(recorded[g]);
          }
        } else if (stream == null) {
          fences.toFreeLists(blocks);
        } else if (recorded[g] != null) {
          lanes.addLoose(stream, recorded[g], blocks);
        } else {
          fences.quarantine(blocks);
        }
      }
    }
    return failure;
  }

  /** The failure to report when {@code stream} could not record the fence {@code blocks} need. */
  static IllegalStateException recordFailed(DeviceStream stream, Block[] blocks, RuntimeException e) {
    long bytes = 0;
    for (Block b : blocks) {
      bytes += b.capacity;
    }
    return recordFailed(stream, blocks.length, bytes, e);
  }

  /** The failure to report when {@code stream} could not record the fence a hand-back needs. */
  static IllegalStateException recordFailed(
      DeviceStream stream, long buffers, long bytes, RuntimeException e) {
    return new IllegalStateException(
        "recording a fence on stream " + stream + " failed: " + e + "; the " + buffers
            + " buffer(s) (" + bytes + " bytes) handed back on it stay out of reuse until the pool"
            + " closes", e);
  }

  static @Nullable RuntimeException either(@Nullable RuntimeException a, @Nullable RuntimeException b) {
    return b == null ? a : DeviceLedger.collect(a, b);
  }
}
