package dev.mlxarena.example;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.Devices;
import dev.mlxarena.Scope;
import dev.mlxarena.spi.Device;
import java.lang.module.ModuleDescriptor;
import java.util.TreeSet;

/** Prints what the module system made of mlx-arena's core, then decodes two tokens through it. */
public final class Main {
  public static void main(String[] args) {
    Module core = BufferPool.class.getModule();
    ModuleDescriptor d = core.getDescriptor();
    System.out.println("module " + core.getName() + (d.isAutomatic() ? " (automatic)" : ""));
    TreeSet<String> exported = new TreeSet<>();
    d.exports().forEach(e -> exported.add(e.source()));
    System.out.println("exports " + exported);
    System.out.println("backends " + Devices.backendNames());
    try (Device device = Devices.open("example"); BufferPool pool = BufferPool.create(device)) {
      for (int token = 0; token < 2; token++) {
        try (Scope scope = pool.openScope()) {
          Buffer x = scope.alloc(1024, DType.F32, 256);
          x.putF32(255, token + 0.5f);
          scope.alloc(64, DType.U8);
          System.out.println("token " + token + ": " + x.getF32(255) + ", " + pool.inUseCount()
              + " live");
        }
      }
      System.out.println("reuse hits " + pool.stats().reuseHits() + ", fresh "
          + pool.stats().freshAllocations());
    }
  }
}
