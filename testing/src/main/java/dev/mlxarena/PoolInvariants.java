package dev.mlxarena;

import dev.mlxarena.testing.CountingRegistrar;
import dev.mlxarena.testing.DeviceHarness;
import dev.mlxarena.testing.ResidencyProbe;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A JUnit extension that checks, after every test, what the test may have forgotten to assert:
 * each {@link BufferPool} field of the test instance still satisfies the pool's invariants; then
 * the pool is closed, each {@link DeviceHarness} field has no allocation left (nothing leaked), and
 * each {@link CountingRegistrar} field holds no registration and saw no breach.
 * Also usable directly through {@link #check(BufferPool)}.
 */
public final class PoolInvariants implements AfterEachCallback {

  /** Fails with the first invariant the pool violates. */
  public static void check(BufferPool pool) {
    String problem = pool.audit().verify();
    if (problem != null) {
      throw new AssertionError("pool invariant violated: " + problem);
    }
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    Object test = context.getRequiredTestInstance();
    List<BufferPool> pools = new ArrayList<>();
    List<DeviceHarness> devices = new ArrayList<>();
    List<CountingRegistrar> registrars = new ArrayList<>();
    for (Class<?> c = test.getClass(); c != null; c = c.getSuperclass()) {
      for (Field f : c.getDeclaredFields()) {
        f.setAccessible(true);
        Object v = f.get(test);
        if (v instanceof BufferPool) {
          pools.add((BufferPool) v);
        } else if (v instanceof DeviceHarness) {
          devices.add((DeviceHarness) v);
        } else if (v instanceof CountingRegistrar) {
          registrars.add((CountingRegistrar) v);
        }
      }
    }
    if (context.getExecutionException().isPresent()) {
      pools.forEach(BufferPool::close);
      return;
    }
    for (BufferPool pool : pools) {
      check(pool);
      pool.close();
      check(pool);
    }
    for (DeviceHarness d : devices) {
      if (d.liveAllocations() != 0) {
        throw new AssertionError(
            d.liveAllocations() + " device allocations leaked after the pool closed on "
                + d.device().name());
      }
      ResidencyProbe r = d.residency();
      if (r != null && !r.isClean()) {
        throw new AssertionError("residency set has uncommitted changes after the test");
      }
    }
    for (CountingRegistrar r : registrars) {
      if (!r.breaches().isEmpty() || r.size() != 0) {
        throw new AssertionError("registrar " + r + " after the pool closed: " + r.size()
            + " buffers still registered, breaches " + r.breaches());
      }
    }
  }
}
