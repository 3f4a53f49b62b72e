package dev.mlxarena.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.PoolStats;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class TryWithResourcesExampleTest {
  @Test
  void everyTokenAfterTheFirstReusesItsBuffers() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PoolStats s = TryWithResourcesExample.run(new PrintStream(bytes, true, StandardCharsets.UTF_8), 5);
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertTrue(out.contains("token 4:"), out);
    assertEquals(10, s.allocations());
    assertEquals(2, s.freshAllocations());
    assertEquals(8, s.reuseHits());
  }
}
