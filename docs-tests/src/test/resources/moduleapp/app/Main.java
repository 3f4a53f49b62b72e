package app;

import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.Devices;
import dev.mlxarena.host.HostDevice;
import dev.mlxarena.kotlin.PoolScopesKt;
import dev.mlxarena.micrometer.BufferPoolMetrics;
import dev.mlxarena.reactive.DecodeLoop;
import dev.mlxarena.reactive.Step;
import dev.mlxarena.spi.Device;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;

/**
 * An application module that requires every module the README's install table names (its
 * module-info is written from that table) and uses each published module once.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    for (String name : args) {
      System.out.println(name + ": " + ModuleLayer.boot().findModule(name)
          .map(m -> m.getDescriptor().isAutomatic() ? "automatic" : "explicit")
          .orElse("missing"));
    }
    System.out.println("backends " + Devices.backendNames());
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (Device device = HostDevice.create();
        BufferPool pool = BufferPoolMetrics.monitor(registry, BufferPool.create(device), "app")) {
      int inBlock = PoolScopesKt.scope(pool, null, scope -> {
        scope.alloc(64, DType.F32);
        return pool.inUseCount();
      });
      List<Integer> tokens = DecodeLoop.<Integer, Integer>builder(pool, (scope, s) -> {
            scope.alloc(16, DType.F32);
            return Step.of(s + 1, s);
          })
          .initialState(0)
          .maxTokens(3)
          .build()
          .run()
          .collectList()
          .block();
      System.out.println("in use in a scope block " + inBlock + ", after " + pool.inUseCount());
      System.out.println("tokens " + tokens);
      double misses = registry.get("mlxarena.pool.allocations").tag("result", "miss")
          .functionCounter().count();
      System.out.println("metrics count allocations: " + (misses > 0));
    }
  }
}
