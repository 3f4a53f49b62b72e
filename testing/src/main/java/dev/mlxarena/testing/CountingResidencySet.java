package dev.mlxarena.testing;

import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.ResidencySet;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * A residency set for tests: keeps membership by identity, counts adds, removes and commits, and
 * rejects what a real {@code MTLResidencySet} would mishandle (adding a member twice, removing a
 * non-member). It remembers which buffers have changes staged since the last commit, so that a
 * device can refuse to free one ({@link #hasStagedChange}), and can fail a commit on demand.
 * Thread-safe.
 */
public final class CountingResidencySet implements ResidencySet, ResidencyProbe {
  private final Set<DeviceBuffer> members = Collections.newSetFromMap(new IdentityHashMap<>());
  private final Set<DeviceBuffer> committed = Collections.newSetFromMap(new IdentityHashMap<>());
  private final Set<DeviceBuffer> staged = Collections.newSetFromMap(new IdentityHashMap<>());
  private boolean failNextCommit;
  private long adds;
  private long removes;
  private long commits;

  @Override
  public synchronized void add(DeviceBuffer buffer) {
    if (!members.add(buffer)) {
      throw new IllegalStateException("residency set already holds " + buffer);
    }
    staged.add(buffer);
    adds++;
  }

  @Override
  public synchronized void remove(DeviceBuffer buffer) {
    if (!members.remove(buffer)) {
      throw new IllegalStateException("residency set does not hold " + buffer);
    }
    staged.add(buffer);
    removes++;
  }

  @Override
  public synchronized void commit() {
    if (failNextCommit) {
      failNextCommit = false;
      throw new IllegalStateException("injected commit failure");
    }
    commits++;
    committed.clear();
    committed.addAll(members);
    staged.clear();
  }

  /** Makes the next commit throw, changing nothing. */
  public synchronized void failNextCommit() {
    failNextCommit = true;
  }

  /** Whether {@code buffer} was added or removed since the last commit. */
  public synchronized boolean hasStagedChange(DeviceBuffer buffer) {
    return staged.contains(buffer);
  }

  @Override
  public synchronized boolean contains(DeviceBuffer buffer) {
    return members.contains(buffer);
  }

  @Override
  public synchronized int size() {
    return members.size();
  }

  /** Whether the last commit made {@code buffer} resident. */
  public synchronized boolean isCommitted(DeviceBuffer buffer) {
    return committed.contains(buffer);
  }

  @Override
  public synchronized boolean isClean() {
    return committed.equals(members) && staged.isEmpty();
  }

  @Override
  public synchronized long adds() {
    return adds;
  }

  @Override
  public synchronized long removes() {
    return removes;
  }

  @Override
  public synchronized long commits() {
    return commits;
  }
}
