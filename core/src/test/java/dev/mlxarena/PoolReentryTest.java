package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.ResidencySet;
import dev.mlxarena.testing.TestDevice;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A device runs under the pool's lock (fresh allocations); one that calls back into its own pool
 * from there gets a clear {@link IllegalStateException} instead of a thread spinning for ever, and
 * the pool goes on working.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a broken guard spins
class PoolReentryTest {

  /** A host device whose allocation calls {@code callback} first, once armed. */
  static final class CallingBackDevice implements Device {
    final Device inner = TestDevice.countingHost();
    final AtomicReference<@Nullable Runnable> callback = new AtomicReference<>();

    @Override
    public String name() {
      return "calling-back";
    }

    @Override
    public DeviceBuffer allocate(long bytes) {
      Runnable r = callback.getAndSet(null);
      if (r != null) {
        r.run();
      }
      return inner.allocate(bytes);
    }

    @Override
    public void free(DeviceBuffer buffer) {
      inner.free(buffer);
    }

    @Override
    public void fillZero(DeviceBuffer buffer, long offset, long length) {
      inner.fillZero(buffer, offset, length);
    }

    @Override
    public @Nullable ResidencySet residencySet() {
      return null;
    }

    @Override
    public void close() {
      inner.close();
    }
  }

  @Test
  void aDeviceCallingBackIntoItsPoolUnderTheLockGetsAClearErrorAndThePoolGoesOn() {
    try (CallingBackDevice device = new CallingBackDevice();
        BufferPool pool = BufferPool.create(device)) {
      device.callback.set(pool::trim); // trim takes the pool's lock
      RuntimeException e = assertThrows(RuntimeException.class, () -> pool.alloc(4096, DType.U8));
      IllegalStateException reentry = causeOfType(e, IllegalStateException.class);
      assertNotNull(reentry, "the re-entry is named somewhere in " + e);
      assertTrue(reentry.getMessage().contains("re-entered"), reentry.getMessage());

      try (Scope scope = pool.openScope()) { // the lock was released: the pool works
        assertEquals(4096, scope.alloc(4096, DType.U8).byteLength());
      }
      assertEquals(0, pool.stats().activeCount());
    }
  }

  private static <T extends Throwable> @Nullable T causeOfType(Throwable t, Class<T> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return type.cast(c);
      }
    }
    return null;
  }
}
