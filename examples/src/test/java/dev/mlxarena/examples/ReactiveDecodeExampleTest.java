package dev.mlxarena.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.reactive.TokenEvent;
import dev.mlxarena.spi.Device;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ReactiveDecodeExampleTest {
  @ParameterizedTest
  @EnumSource(ExampleDevice.class)
  void printsOneLinePerTokenAndLeavesNothingInUse(ExampleDevice kind) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    List<TokenEvent<Integer>> events;
    try (Device device = kind.open()) {
      events = ReactiveDecodeExample.run(device, new PrintStream(bytes, true, StandardCharsets.UTF_8), 6);
    }
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(List.of(18, 19, 4, 37, 54, 55), events.stream().map(TokenEvent::token).toList(),
        "the same tokens on every device");
    assertEquals(6, events.size());
    assertEquals(1, events.get(0).poolDelta().freshAllocations());
    assertEquals(1, events.get(5).poolDelta().reuseHits(), "later tokens reuse the first one's buffer");
    assertTrue(out.contains("token 5 = "), out);
    assertTrue(out.contains("in use after the loop: 0"), out);
  }
}
