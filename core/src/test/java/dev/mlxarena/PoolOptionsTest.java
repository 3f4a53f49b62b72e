package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.testing.TestDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * System properties set the options' defaults. A bad value is refused where it is used, with the
 * property and the value in the message, each time, and costs nothing else: no class is left
 * unusable, and no device memory is kept.
 */
@Isolated
class PoolOptionsTest {
  private final TestDevice device = TestDevice.withResidency();

  @AfterEach
  void clearProperties() {
    System.clearProperty("mlxarena.cacheLimit");
    System.clearProperty("mlxarena.memoryLimit");
    System.clearProperty("mlxarena.leakDetection");
  }

  private void assertRefusedThenUsable(String property, String bad) {
    System.setProperty(property, bad);
    for (int attempt = 0; attempt < 2; attempt++) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BufferPool.create(device));
      assertTrue(e.getMessage().contains(property + "=" + bad), e.getMessage());
    }
    System.clearProperty(property);
    BufferPool.create(device).close();
  }

  @Test
  void aBadCacheLimitIsRefusedWhereItIsUsed() {
    assertRefusedThenUsable("mlxarena.cacheLimit", "512mb");
  }

  @Test
  void aBadMemoryLimitIsRefusedWhereItIsUsed() {
    assertRefusedThenUsable("mlxarena.memoryLimit", "lots");
  }

  @Test
  void aBadLeakDetectionLevelIsRefusedWhereItIsUsed() {
    assertRefusedThenUsable("mlxarena.leakDetection", "always");
  }

  @Test
  void aBadLeakDetectionLevelKeepsNoDeviceMemoryOfAnOwnedAllocation() {
    System.setProperty("mlxarena.leakDetection", "always");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Buffer.allocOwned(device, 64, DType.U8));
    assertTrue(e.getMessage().contains("mlxarena.leakDetection=always"), e.getMessage());
    assertEquals(0, device.liveAllocations(), "nothing was allocated");
    assertEquals(0, device.counting().size());
  }

  @Test
  void goodValuesSetTheDefaults() {
    System.setProperty("mlxarena.cacheLimit", "512m");
    System.setProperty("mlxarena.memoryLimit", "8g");
    System.setProperty("mlxarena.leakDetection", "Paranoid");
    PoolOptions o = PoolOptions.defaults();
    assertEquals(512L << 20, o.getCacheLimit());
    assertEquals(8L << 30, o.getMemoryLimit());
    assertEquals(LeakDetection.PARANOID, o.getLeakDetection());
    clearProperties();
    assertEquals(Long.MAX_VALUE, PoolOptions.defaults().getCacheLimit());
  }
}
