package dev.mlxarena;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import org.jspecify.annotations.Nullable;

/**
 * JFR events of the pool. They cost nothing while no recording asks for them: each is created
 * and tested with {@code shouldCommit()} on a path that is already slow (a device allocation, a
 * trim, a retry) or once per scope. Their string fields are null until {@code shouldCommit()}
 * asks for them.
 */
final class PoolEvents {
  private PoolEvents() {}

  static void freshAllocation(String device, long requested, long capacity, long heldAfter) {
    FreshAllocation e = new FreshAllocation();
    if (e.shouldCommit()) {
      e.device = device;
      e.requested = requested;
      e.capacity = capacity;
      e.heldAfter = heldAfter;
      e.commit();
    }
  }

  static void trim(String reason, long buffers, long bytes) {
    Trim e = new Trim();
    if (e.shouldCommit()) {
      e.reason = reason;
      e.buffers = buffers;
      e.bytes = bytes;
      e.commit();
    }
  }

  static void oomRetry(long requested, long held, String reason) {
    OomRetry e = new OomRetry();
    if (e.shouldCommit()) {
      e.requested = requested;
      e.held = held;
      e.reason = reason;
      e.commit();
    }
  }

  static void scopeClose(long buffers, long bytes, boolean deferred) {
    ScopeClose e = new ScopeClose();
    if (e.shouldCommit()) {
      e.buffers = buffers;
      e.bytes = bytes;
      e.deferred = deferred;
      e.commit();
    }
  }

  @Name("dev.mlxarena.FreshAllocation")
  @Label("Fresh Device Allocation")
  @Category({"mlx-arena", "Buffer Pool"})
  @Description("A pool allocation that went to the device")
  static final class FreshAllocation extends Event {
    @Label("Device") @Nullable String device;
    @Label("Requested") @DataAmount long requested;
    @Label("Capacity") @DataAmount long capacity;
    @Label("Held After") @DataAmount long heldAfter;
  }

  @Name("dev.mlxarena.Trim")
  @Label("Pool Trim")
  @Category({"mlx-arena", "Buffer Pool"})
  @Description("Cached buffers given back to the device")
  static final class Trim extends Event {
    @Label("Reason") @Nullable String reason;
    @Label("Buffers") long buffers;
    @Label("Bytes") @DataAmount long bytes;
  }

  @Name("dev.mlxarena.OomRetry")
  @Label("Out-of-Memory Retry")
  @Category({"mlx-arena", "Buffer Pool"})
  @Description("An allocation retried after freeing cached buffers")
  static final class OomRetry extends Event {
    @Label("Requested") @DataAmount long requested;
    @Label("Held") @DataAmount long held;
    @Label("Reason") @Nullable String reason;
  }

  @Name("dev.mlxarena.ScopeClose")
  @Label("Scope Close")
  @Category({"mlx-arena", "Buffer Pool"})
  @Description("An arena cycle ended and its buffers were recycled")
  static final class ScopeClose extends Event {
    @Label("Buffers") long buffers;
    @Label("Bytes") @DataAmount long bytes;
    @Label("Deferred") boolean deferred;
  }
}
