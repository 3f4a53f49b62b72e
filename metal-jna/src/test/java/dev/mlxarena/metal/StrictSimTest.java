package dev.mlxarena.metal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The simulation shim refuses every breach of the rules in {@code mlxshim.h}, each broken here on
 * purpose through the raw ABI (below the Java side's own checks), with the error it gives.
 */
class StrictSimTest {
  private final SimShimLibrary sim = Shims.sim();
  private final byte[] err = new byte[MetalDevice.ERR_CAP];
  private Pointer device;
  private Pointer set;

  @BeforeEach
  void open() {
    device = sim.mlxshim_device_create(err, err.length);
    assertNotNull(device, this::error);
    set = sim.mlxshim_residency_new(device, 16, "test", err, err.length);
    assertNotNull(set, this::error);
  }

  @AfterEach
  void close() {
    if (sim.mlxsim_residency_adds(set) >= 0) {
      ok(sim.mlxshim_residency_release(set, err, err.length));
    }
    sim.mlxshim_device_release(device, err, err.length);
  }

  private String error() {
    return MetalDevice.message(err);
  }

  private void ok(int rc) {
    assertEquals(0, rc, this::error);
  }

  /** Asserts the call was refused and its message holds every word. */
  private void refused(long rc, String... words) {
    assertNotEquals(0, rc, "the sim accepted what it must refuse");
    for (String w : words) {
      assertTrue(error().contains(w), () -> "message lacks '" + w + "': " + error());
    }
    err[0] = 0;
  }

  /** A status for {@link #refused} from a call that signals failure by a sentinel. */
  private static int failed(boolean sentinel) {
    return sentinel ? 1 : 0;
  }

  private Pointer buffer(long length, StorageMode storage) {
    Pointer b = sim.mlxshim_buffer_new(device, length, storage.code, err, err.length);
    assertNotNull(b, this::error);
    return b;
  }

  private long live() {
    return sim.mlxsim_live_buffers(device);
  }

  private long allocated() {
    return sim.mlxsim_allocated_buffers(device);
  }

  // ------------------------------------------------------------------ rule 1: no release of a member

  @Test
  void releasingACommittedMemberIsRefusedUntilItsRemovalIsCommitted() {
    Pointer b = buffer(64, StorageMode.SHARED);
    ok(sim.mlxshim_residency_add(set, b, err, err.length));
    ok(sim.mlxshim_residency_commit(set, err, err.length));
    refused(sim.mlxshim_buffer_release(b, err, err.length), "still a member", "commit");
    ok(sim.mlxshim_residency_remove(set, b, err, err.length));
    refused(sim.mlxshim_buffer_release(b, err, err.length), "still a member");
    assertEquals(1, live(), "a refused release leaves the buffer allocated");
    ok(sim.mlxshim_residency_commit(set, err, err.length));
    ok(sim.mlxshim_buffer_release(b, err, err.length));
    assertEquals(0, live());
    assertEquals(0, allocated());
  }

  @Test
  void releasingAStagedAdditionIsRefused() {
    Pointer b = buffer(64, StorageMode.SHARED);
    ok(sim.mlxshim_residency_add(set, b, err, err.length));
    refused(sim.mlxshim_buffer_release(b, err, err.length), "still a member", "staged");
    ok(sim.mlxshim_residency_remove(set, b, err, err.length));
    ok(sim.mlxshim_residency_commit(set, err, err.length));
    ok(sim.mlxshim_buffer_release(b, err, err.length));
  }

  @Test
  void aBufferAddedAndRemovedBeforeAnyCommitIsReleasedButHeldByTheSetUntilTheCommit() {
    Pointer b = buffer(64, StorageMode.SHARED);
    ok(sim.mlxshim_residency_add(set, b, err, err.length));
    ok(sim.mlxshim_residency_remove(set, b, err, err.length));
    ok(sim.mlxshim_buffer_release(b, err, err.length));
    assertEquals(0, live());
    assertEquals(1, allocated(), "the set still holds it: its staged changes reference it");
    ok(sim.mlxshim_residency_commit(set, err, err.length));
    assertEquals(0, allocated());
  }

  @Test
  void aBufferInTwoSetsIsReleasableOnlyOnceBothLetGo() {
    Pointer other = sim.mlxshim_residency_new(device, 0, "other", err, err.length);
    assertNotNull(other, this::error);
    Pointer b = buffer(8, StorageMode.SHARED);
    ok(sim.mlxshim_residency_add(set, b, err, err.length));
    ok(sim.mlxshim_residency_add(other, b, err, err.length));
    ok(sim.mlxshim_residency_commit(set, err, err.length));
    ok(sim.mlxshim_residency_commit(other, err, err.length));
    ok(sim.mlxshim_residency_remove(set, b, err, err.length));
    ok(sim.mlxshim_residency_commit(set, err, err.length));
    refused(sim.mlxshim_buffer_release(b, err, err.length), "1 residency set");
    ok(sim.mlxshim_residency_release(other, err, err.length));
    ok(sim.mlxshim_buffer_release(b, err, err.length));
    assertEquals(0, allocated());
  }

  // ------------------------------------------------------------------ rule 2: members only, once

  @Test
  void addingAMemberTwiceOrRemovingANonMemberIsRefused() {
    Pointer b = buffer(8, StorageMode.SHARED);
    refused(sim.mlxshim_residency_remove(set, b, err, err.length), "does not hold");
    ok(sim.mlxshim_residency_add(set, b, err, err.length));
    refused(sim.mlxshim_residency_add(set, b, err, err.length), "already holds");
    ok(sim.mlxshim_residency_commit(set, err, err.length));
    refused(sim.mlxshim_residency_add(set, b, err, err.length), "already holds");
    ok(sim.mlxshim_residency_remove(set, b, err, err.length));
    refused(sim.mlxshim_residency_remove(set, b, err, err.length), "does not hold");
    ok(sim.mlxshim_residency_add(set, b, err, err.length)); // back before the commit: allowed
    ok(sim.mlxshim_residency_remove(set, b, err, err.length));
    ok(sim.mlxshim_residency_commit(set, err, err.length));
    assertEquals(0, sim.mlxshim_residency_count(set, err, err.length));
    ok(sim.mlxshim_buffer_release(b, err, err.length));
    assertEquals(0, allocated());
  }

  // ------------------------------------------------------------------ rule 3: aligned blits on private storage

  @Test
  void privateAllocationsAreRoundedUpToWholeWords() {
    for (long n = 1; n <= 9; n++) {
      Pointer p = buffer(n, StorageMode.PRIVATE);
      assertEquals((n + 3) / 4 * 4, sim.mlxshim_buffer_length(p));
      assertNull(sim.mlxshim_buffer_contents(p));
      ok(sim.mlxshim_buffer_release(p, err, err.length));
      Pointer s = buffer(n, StorageMode.SHARED);
      assertEquals(n, sim.mlxshim_buffer_length(s));
      ok(sim.mlxshim_buffer_release(s, err, err.length));
    }
  }

  @Test
  void unalignedFillsAndCopiesOfPrivateBuffersAreRefused() {
    Pointer p = buffer(16, StorageMode.PRIVATE);
    Memory host = new Memory(16);
    long[][] unaligned = {{1, 4}, {0, 3}, {2, 2}, {4, 5}, {15, 1}};
    for (long[] r : unaligned) {
      refused(sim.mlxshim_buffer_fill_zero(device, p, r[0], r[1], err, err.length), "not 4-byte aligned", "private");
      refused(sim.mlxshim_buffer_write(device, p, r[0], host, r[1], err, err.length), "not 4-byte aligned");
      refused(sim.mlxshim_buffer_read(device, p, r[0], host, r[1], err, err.length), "not 4-byte aligned");
    }
    ok(sim.mlxshim_buffer_fill_zero(device, p, 4, 8, err, err.length));
    ok(sim.mlxshim_buffer_write(device, p, 0, host, 16, err, err.length));
    ok(sim.mlxshim_buffer_read(device, p, 12, host, 4, err, err.length));
    refused(sim.mlxshim_buffer_read(device, p, 16, host, 4, err, err.length), "outside");
    ok(sim.mlxshim_buffer_release(p, err, err.length));

    Pointer s = buffer(16, StorageMode.SHARED);
    for (long[] r : unaligned) {
      ok(sim.mlxshim_buffer_fill_zero(device, s, r[0], r[1], err, err.length));
      ok(sim.mlxshim_buffer_write(device, s, r[0], host, r[1], err, err.length));
    }
    ok(sim.mlxshim_buffer_release(s, err, err.length));
  }

  // ------------------------------------------------------------------ rule 4: released objects

  @Test
  void everyUseOfAReleasedSetIsRefused() {
    Pointer b = buffer(8, StorageMode.SHARED);
    ok(sim.mlxshim_residency_add(set, b, err, err.length));
    ok(sim.mlxshim_residency_commit(set, err, err.length));
    ok(sim.mlxshim_residency_release(set, err, err.length));
    ok(sim.mlxshim_buffer_release(b, err, err.length)); // the set let go of it
    Pointer c = buffer(8, StorageMode.SHARED);
    refused(sim.mlxshim_residency_add(set, c, err, err.length), "released");
    refused(sim.mlxshim_residency_remove(set, c, err, err.length), "released");
    refused(sim.mlxshim_residency_commit(set, err, err.length), "released");
    refused(failed(sim.mlxshim_residency_count(set, err, err.length) == -1), "released");
    refused(failed(sim.mlxshim_residency_allocated_size(set, err, err.length) == -1), "released");
    refused(failed(sim.mlxshim_residency_native(set, err, err.length) == null), "released");
    refused(sim.mlxshim_residency_release(set, err, err.length), "released");
    ok(sim.mlxshim_buffer_release(c, err, err.length));
  }

  @Test
  void everyUseOfAReleasedDeviceIsRefused() {
    Pointer b = buffer(8, StorageMode.SHARED);
    ok(sim.mlxshim_residency_release(set, err, err.length));
    ok(sim.mlxshim_device_release(device, err, err.length));
    Memory host = new Memory(8);
    refused(failed(sim.mlxshim_buffer_new(device, 8, StorageMode.SHARED.code, err, err.length) == null), "released");
    refused(sim.mlxshim_buffer_fill_zero(device, b, 0, 8, err, err.length), "released");
    refused(sim.mlxshim_buffer_write(device, b, 0, host, 8, err, err.length), "released");
    refused(sim.mlxshim_buffer_read(device, b, 0, host, 8, err, err.length), "released");
    refused(failed(sim.mlxshim_device_name(device, new byte[64], 64, err, err.length) == -1), "released");
    refused(failed(sim.mlxshim_device_recommended_working_set(device, err, err.length) == 0), "released");
    refused(failed(sim.mlxshim_device_native(device, err, err.length) == null), "released");
    refused(failed(sim.mlxshim_residency_supported(device, err, err.length) == -1), "released");
    refused(failed(sim.mlxshim_residency_new(device, 0, "late", err, err.length) == null), "released");
    refused(sim.mlxshim_device_release(device, err, err.length), "released");
    ok(sim.mlxshim_buffer_release(b, err, err.length)); // a buffer outlives its device, as on Metal
    assertEquals(0, live());
  }

  @Test
  void aDeviceIsReleasedOnlyAfterItsSets() {
    refused(sim.mlxshim_device_release(device, err, err.length), "1 live residency set");
    ok(sim.mlxshim_residency_release(set, err, err.length));
    ok(sim.mlxshim_device_release(device, err, err.length));
  }

  // ------------------------------------------------------------------ allocatedSize as of the last commit

  @Test
  void allocatedSizeChangesOnCommitOnly() {
    Pointer a = buffer(32, StorageMode.SHARED);
    Pointer b = buffer(5, StorageMode.PRIVATE);
    ok(sim.mlxshim_residency_add(set, a, err, err.length));
    ok(sim.mlxshim_residency_add(set, b, err, err.length));
    assertEquals(0, sim.mlxshim_residency_allocated_size(set, err, err.length));
    assertEquals(2, sim.mlxshim_residency_count(set, err, err.length), "the count includes staged additions");
    ok(sim.mlxshim_residency_commit(set, err, err.length));
    assertEquals(32 + 8, sim.mlxshim_residency_allocated_size(set, err, err.length));
    ok(sim.mlxshim_residency_remove(set, a, err, err.length));
    assertEquals(1, sim.mlxshim_residency_count(set, err, err.length), "the count excludes staged removals");
    assertEquals(32 + 8, sim.mlxshim_residency_allocated_size(set, err, err.length));
    ok(sim.mlxshim_residency_commit(set, err, err.length));
    assertEquals(8, sim.mlxshim_residency_allocated_size(set, err, err.length));
    ok(sim.mlxshim_residency_remove(set, b, err, err.length));
    ok(sim.mlxshim_residency_commit(set, err, err.length));
    ok(sim.mlxshim_buffer_release(a, err, err.length));
    ok(sim.mlxshim_buffer_release(b, err, err.length));
  }

  // ------------------------------------------------------------------ the book against a model

  @Test
  void membershipAgreesWithAModelThroughThousandsOfRandomChanges() {
    Random random = new Random(0x5eed);
    List<Pointer> buffers = new ArrayList<>();
    Map<Pointer, Long> lengths = new HashMap<>();
    Set<Pointer> members = new HashSet<>();
    Set<Pointer> committed = new HashSet<>();
    Set<Pointer> touched = new HashSet<>(); // changed since the last commit
    for (int i = 0; i < 400; i++) {
      long n = 1 + random.nextInt(100);
      Pointer b = buffer(n, StorageMode.SHARED);
      buffers.add(b);
      lengths.put(b, n);
    }
    for (int step = 0; step < 20_000; step++) {
      Pointer b = buffers.get(random.nextInt(buffers.size()));
      int action = random.nextInt(10);
      if (action < 4) {
        int rc = sim.mlxshim_residency_add(set, b, err, err.length);
        boolean added = members.add(b);
        assertEquals(added ? 0 : 1, rc, this::error);
        if (added) {
          touched.add(b);
        }
      } else if (action < 8) {
        int rc = sim.mlxshim_residency_remove(set, b, err, err.length);
        boolean removed = members.remove(b);
        assertEquals(removed ? 0 : 1, rc, this::error);
        if (removed) {
          touched.add(b);
        }
      } else if (action < 9) {
        ok(sim.mlxshim_residency_commit(set, err, err.length));
        committed.clear();
        committed.addAll(members);
        touched.clear();
      } else {
        assertEquals(members.contains(b), sim.mlxsim_residency_contains(set, b) == 1);
      }
      assertEquals(members.size(), sim.mlxshim_residency_count(set, err, err.length));
      assertEquals(touched.isEmpty(), sim.mlxsim_residency_is_clean(set) == 1);
    }
    long committedBytes = committed.stream().mapToLong(lengths::get).sum();
    assertEquals(committedBytes, sim.mlxshim_residency_allocated_size(set, err, err.length));
    for (Pointer b : buffers) {
      boolean mayRelease = !members.contains(b) && !committed.contains(b);
      int rc = sim.mlxshim_buffer_release(b, err, err.length);
      assertEquals(mayRelease ? 0 : 1, rc, this::error);
      if (!mayRelease) {
        err[0] = 0;
        if (members.contains(b)) {
          ok(sim.mlxshim_residency_remove(set, b, err, err.length));
        }
      }
    }
    ok(sim.mlxshim_residency_commit(set, err, err.length));
    for (Pointer b : buffers) {
      if (members.contains(b) || committed.contains(b)) {
        ok(sim.mlxshim_buffer_release(b, err, err.length));
      }
    }
    assertEquals(0, live());
    assertEquals(0, allocated());
  }
}
