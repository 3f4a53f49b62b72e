package dev.mlxarena.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class TracesTest {
  @Test
  void bothTracesHaveTheDocumentedLengthAndRange() {
    long[] decode = Traces.decode();
    assertEquals(Traces.LENGTH, decode.length);
    assertEquals(8, java.util.Arrays.stream(decode).min().getAsLong());
    assertEquals(1 << 20, java.util.Arrays.stream(decode).max().getAsLong());
    long[] small = Traces.small();
    assertEquals(Traces.LENGTH, small.length);
    assertTrue(java.util.Arrays.stream(small).allMatch(s -> s >= 16 && s <= 16 * 1024));
  }

  @Test
  void theNativeBaselinesReplayTheSameDecodeTrace() throws IOException {
    long[] onDisk =
        Files.readAllLines(Path.of("native/decode-trace.txt")).stream()
            .mapToLong(Long::parseLong)
            .toArray();
    assertArrayEquals(Traces.decode(), onDisk, "regenerate with: java -cp target/benchmarks.jar dev.mlxarena.bench.Traces decode");
  }
}
