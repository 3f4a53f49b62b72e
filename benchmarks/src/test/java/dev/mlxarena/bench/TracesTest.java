package dev.mlxarena.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.PoolStats;
import dev.mlxarena.Scope;
import dev.mlxarena.host.HostDevice;
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

  @Test
  void everyShapeIsARingOfTokensOfTheSameLength() {
    for (String shape : Traces.SHAPES) {
      long[][] ring = Traces.shape(shape);
      assertEquals(Traces.RING, ring.length, shape);
      for (long[] token : ring) {
        assertEquals(Traces.LENGTH, token.length, shape);
      }
    }
    long[][] growing = Traces.shape("growing");
    assertEquals(32L * 256 * 4, growing[0][16], "the scores of the first layer at context 256");
    assertEquals(32L * 1279 * 4, growing[Traces.RING - 1][16]);
    long[] sorted = Traces.shape("shuffled")[1].clone();
    java.util.Arrays.sort(sorted);
    long[] decode = Traces.decode();
    java.util.Arrays.sort(decode);
    assertArrayEquals(decode, sorted, "a shuffled token holds the decode trace's sizes");
  }

  /**
   * What the fast path depends on: once a shape's ring has been replayed, every allocation of the
   * next pass reuses a buffer from the allocating scope's own reserve, without the pool's lock.
   */
  @Test
  void afterOneRingEveryShapeIsServedFromTheScopesOwnReserve() {
    for (String shape : Traces.SHAPES) {
      long[][] ring = Traces.shape(shape);
      try (HostDevice device = HostDevice.create();
          BufferPool pool = BufferPool.create(device)) {
        replay(pool, ring, Traces.twoScopes(shape));
        PoolStats before = pool.stats();
        replay(pool, ring, Traces.twoScopes(shape));
        PoolStats d = pool.stats().since(before);
        assertEquals((long) Traces.RING * Traces.LENGTH, d.allocations(), shape);
        assertEquals(0, d.freshAllocations(), shape + ": every allocation reused a buffer");
        assertEquals(0, d.lockedAllocations(), shape + ": no allocation took the pool's lock");
      }
    }
  }

  private static void replay(BufferPool pool, long[][] ring, boolean twoScopes) {
    for (long[] t : ring) {
      if (twoScopes) {
        try (Scope a = pool.openScope();
            Scope b = pool.openScope()) {
          for (int i = 0; i < t.length; i += 2) {
            a.alloc(t[i], DType.U8);
            b.alloc(t[i + 1], DType.U8);
          }
        }
      } else {
        try (Scope s = pool.openScope()) {
          for (long size : t) {
            s.alloc(size, DType.U8);
          }
        }
      }
    }
  }
}
