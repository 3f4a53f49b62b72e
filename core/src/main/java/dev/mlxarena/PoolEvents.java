package dev.mlxarena;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/**
 * JFR events of the pool. They cost nothing while no recording asks for them: each is created
 * and tested with {@code shouldCommit()} on a path that is already slow (a device allocation, a
 * trim, a retry) or once per scope.
 */
final class PoolEvents {
  private PoolEvents() {}

  @Name("dev.mlxarena.FreshAllocation")
  @Label("Fresh Device Allocation")
  @Category({"mlx-arena", "Buffer Pool"})
  @Description("A pool allocation that went to the device")
  static final class FreshAllocation extends Event {
    @Label("Device") String device;
    @Label("Requested") @DataAmount long requested;
    @Label("Capacity") @DataAmount long capacity;
    @Label("Held After") @DataAmount long heldAfter;
  }

  @Name("dev.mlxarena.Trim")
  @Label("Pool Trim")
  @Category({"mlx-arena", "Buffer Pool"})
  @Description("Cached buffers given back to the device")
  static final class Trim extends Event {
    @Label("Reason") String reason;
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
    @Label("Reason") String reason;
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
