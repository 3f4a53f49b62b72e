package dev.mlxarena.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.mlxarena.spi.Device;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class KotlinDecodeExampleTest {
  @ParameterizedTest
  @EnumSource(ExampleDevice.class)
  void theKotlinExampleGeneratesItsTokens(ExampleDevice kind) {
    try (Device device = kind.open()) {
      List<Integer> tokens = KotlinDecodeExample.run(device, 5);
      assertEquals(List.of(4, 21, 0, 9, 28), tokens, "the same tokens on every device");
      assertEquals(tokens, KotlinDecodeExample.run(device, 5), "deterministic");
    }
  }
}
