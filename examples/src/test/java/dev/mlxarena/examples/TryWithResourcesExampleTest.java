package dev.mlxarena.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.PoolStats;
import dev.mlxarena.spi.Device;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TryWithResourcesExampleTest {
  @ParameterizedTest
  @EnumSource(ExampleDevice.class)
  void everyTokenAfterTheFirstReusesItsBuffers(ExampleDevice kind) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PoolStats s;
    try (Device device = kind.open()) {
      s = TryWithResourcesExample.run(device, new PrintStream(bytes, true, StandardCharsets.UTF_8), 5);
    }
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertTrue(out.contains("token 4: sum 37.5458,"), out);
    assertEquals(10, s.allocations());
    assertEquals(2, s.freshAllocations());
    assertEquals(8, s.reuseHits());
  }
}
