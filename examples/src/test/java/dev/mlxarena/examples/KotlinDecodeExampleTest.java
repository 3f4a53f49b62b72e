package dev.mlxarena.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class KotlinDecodeExampleTest {
  @Test
  void theKotlinExampleGeneratesItsTokens() {
    List<Integer> tokens = KotlinDecodeExample.INSTANCE.run(5);
    assertEquals(5, tokens.size());
    assertEquals(tokens, KotlinDecodeExample.INSTANCE.run(5), "deterministic");
  }
}
