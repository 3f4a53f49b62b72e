package dev.mlxarena.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.reactive.TokenEvent;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReactiveDecodeExampleTest {
  @Test
  void printsOneLinePerTokenAndLeavesNothingInUse() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    List<TokenEvent<Integer>> events =
        ReactiveDecodeExample.run(new PrintStream(bytes, true, StandardCharsets.UTF_8), 6);
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(6, events.size());
    assertEquals(1, events.get(0).poolDelta().freshAllocations());
    assertEquals(1, events.get(5).poolDelta().reuseHits(), "later tokens reuse the first one's buffer");
    assertTrue(out.contains("token 5 = "), out);
    assertTrue(out.contains("in use after the loop: 0"), out);
  }
}
