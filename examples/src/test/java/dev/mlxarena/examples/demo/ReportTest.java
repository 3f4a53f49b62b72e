package dev.mlxarena.examples.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;

/** The chart reads at a glance: spikes do not flatten the rest, units fit, colours keep their meaning. */
class ReportTest {
  private static final int TOKENS = 200;

  /** Steady tokens at {@code steady}, token 0 and token 100 a hundred times slower. */
  private static double[] spiky(double steady) {
    double[] v = new double[TOKENS];
    Arrays.fill(v, steady);
    v[0] = 100 * steady;
    v[100] = 100 * steady;
    return v;
  }

  private static List<Report.Series> runs() {
    double[] held = new double[TOKENS];
    Arrays.fill(held, 0.18 * (1 << 20));
    return List.of(
        new Report.Series("pooled", spiky(2), spiky(0.5), held, held.clone()),
        new Report.Series("unpooled", spiky(3), spiky(40), null, null),
        new Report.Series("cuMemAllocAsync", spiky(3), spiky(0), null, null));
  }

  @Test
  void timePanelsAreLogarithmicSoOneSpikeDoesNotFlattenTheSteadyTokens() {
    List<XYChart> charts = Report.charts("settings", runs());
    assertTrue(charts.get(0).getStyler().isYAxisLogarithmic(), "time per token");
    assertTrue(charts.get(1).getStyler().isYAxisLogarithmic(), "allocating and recycling");
    XYSeries zeros = charts.get(1).getSeriesMap().get("cuMemAllocAsync");
    assertTrue(Arrays.stream(zeros.getYData()).allMatch(y -> y >= Report.LOG_FLOOR), "zero drawn at the floor");
  }

  @Test
  void smallByteCountsAreShownInKibibytes() {
    XYChart bytes = Report.charts("settings", runs()).get(2);
    assertEquals("KiB", bytes.getYAxisTitle());
    assertEquals(184.32, bytes.getSeriesMap().get("held by the pool").getYData()[0], 1e-9);
    assertEquals("bytes", Report.byteUnit(512));
    assertEquals("MiB", Report.byteUnit(3 << 20));
  }

  @Test
  void legendsSitOutsideThePlotAndEachMeaningKeepsOneColour() {
    List<XYChart> charts = Report.charts("settings", runs());
    Set<Color> colours = new HashSet<>();
    for (XYChart c : charts) {
      assertEquals(Styler.LegendPosition.OutsideE, c.getStyler().getLegendPosition(), c.getTitle());
      for (XYSeries s : c.getSeriesMap().values()) {
        colours.add(s.getLineColor());
      }
    }
    for (String run : List.of("pooled", "unpooled", "cuMemAllocAsync")) {
      assertEquals(charts.get(0).getSeriesMap().get(run).getLineColor(), charts.get(1).getSeriesMap().get(run).getLineColor(),
          run + " keeps its colour across panels");
    }
    assertEquals(5, colours.size(), "five meanings, five colours");
    assertNotEquals(charts.get(2).getSeriesMap().get("held by the pool").getLineColor(),
        charts.get(0).getSeriesMap().get("pooled").getLineColor());
  }

  @Test
  void theTitleNamesTheRunsSettings(@TempDir Path dir) throws Exception {
    String settings = "1 layers, hidden 32; 200 tokens on host, policy powerOfTwo";
    assertTrue(Report.charts(settings, runs()).get(0).getTitle().startsWith(settings));
    Path png = dir.resolve("chart.png");
    Report.write(png, settings, runs());
    byte[] head = Files.readAllBytes(png);
    assertTrue(head.length > 1000 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G', "a PNG file");
  }
}
