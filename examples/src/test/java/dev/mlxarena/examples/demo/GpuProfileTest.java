package dev.mlxarena.examples.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The profile's arithmetic, on made-up tokens: no GPU needed. */
class GpuProfileTest {

  /**
   * Token i starts at 1000 us * i and spends 600 us launching, 40 in four all-reduces, 50 allocating,
   * 20 recycling, 100 waiting.
   */
  private static GpuRun.Result run(int tokens, GpuRun.GpuTimes gpu) {
    List<GpuRun.TokenStat> stats = new ArrayList<>();
    for (int i = 0; i < tokens; i++) {
      long wait = i == 3 ? 900_000 : 100_000; // one token waits long: the medians do not move
      stats.add(new GpuRun.TokenStat(1_000_000L * i, 900_000, 50_000, 20_000, 130, 1 << 20, 132, 600_000, 0, 0, wait, 4,
          40_000));
    }
    return new GpuRun.Result(GpuRun.Mode.POOLED, stats, new int[tokens], 1_000_000L * tokens, 40, 0, 0, 0, null, 0, 2,
        gpu, null);
  }

  @Test
  void theHostsTokenIsSplitAndTheRestIsWhatItLeaves() {
    double[] intervals = {5, 990, 991, 992, 993, 994, 995};
    double[] spans = {5, 900, 901, 902, 903, 904, 905, 906};
    GpuProfile p = GpuProfile.of(run(8, new GpuRun.GpuTimes(intervals, spans, new double[] {700, 710, 690}, 1)));
    assertEquals(6, p.tokens(), "the first token and the last are left out");
    assertEquals(1000, p.hostInterval(), 1e-9);
    assertEquals(600, p.launches(), 1e-9);
    assertEquals(132, p.launchCount(), 1e-9);
    assertEquals(50, p.alloc(), 1e-9);
    assertEquals(20, p.recycle(), 1e-9);
    assertEquals(100, p.readback(), 1e-9);
    assertEquals(900, p.hostWork(), 1e-9, "the interval less the waiting");
    assertEquals(40, p.nccl(), 1e-9);
    assertEquals(4, p.ncclCount(), 1e-9);
    assertEquals(190, p.rest(), 1e-9, "900 of work less 600 launching, 40 all-reducing, 50 allocating and 20 recycling");
    assertEquals(993, p.gpuInterval(), 1e-9, "the median, the first interval left out");
    assertEquals(903, p.gpuSpan(), 1e-9);
    assertEquals(700, p.gpuAlone(), 1e-9);
    assertEquals(3, p.held());
    assertEquals(1, p.holdsTimedOut());
  }

  @Test
  void anUnprofiledOrTooShortRunHasNoProfile() {
    assertNull(GpuProfile.of(run(8, null)));
    assertNull(GpuProfile.of(run(2, new GpuRun.GpuTimes(new double[1], new double[2], new double[0], 0))));
  }
}
