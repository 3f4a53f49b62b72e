package dev.mlxarena.examples.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The weights the host and the GPU make from the same definition. */
class WeightsTest {
  @Test
  void elementsDependOnTheSeedTensorAndIndexOnly() {
    long s = Weights.tensorSeed(42, 5);
    assertEquals(Weights.uniform(s, 123, 0.5f), Weights.uniform(s, 123, 0.5f));
    assertNotEquals(Weights.uniform(s, 123, 0.5f), Weights.uniform(s, 124, 0.5f));
    assertNotEquals(s, Weights.tensorSeed(42, 6));
    assertNotEquals(s, Weights.tensorSeed(43, 5));
  }

  @Test
  void elementsAreUniformWithinTheScale() {
    long s = Weights.tensorSeed(7, 0);
    double sum = 0;
    int n = 200_000;
    for (int i = 0; i < n; i++) {
      float v = Weights.uniform(s, i, 0.25f);
      assertTrue(v >= -0.25f && v < 0.25f, "in [-scale, scale): " + v);
      sum += v;
    }
    assertTrue(Math.abs(sum / n) < 0.002, "mean near 0: " + sum / n);
  }

  @Test
  void splitMixMatchesItsPublishedOutput() {
    // SplitMix64 seeded with 0: its first output is mix64(0).
    assertEquals(0xE220A8397B1DCDAFL, Weights.mix64(0));
  }

  @Test
  void tensorsAreNumberedInOrderWithFanInScales() {
    ModelConfig cfg = new ModelConfig(64, 32, 2, 4, 2, 128, 8);
    List<Weights.Tensor> t = Weights.of(cfg);
    assertEquals(2 + 7 * 2, t.size());
    for (int i = 0; i < t.size(); i++) {
      assertEquals(i, t.get(i).index());
    }
    assertEquals(16L * 32, t.get(2).count(), "wk0 is kvDim x hidden");
    assertEquals((float) (1 / Math.sqrt(128)), t.get(7).scale(), "wDown0 scales by the FFN width");
    assertEquals(cfg.weightCount() - 32 - 2L * 2 * 32, t.stream().mapToLong(Weights.Tensor::count).sum(),
        "every weight but the norms");
  }
}
