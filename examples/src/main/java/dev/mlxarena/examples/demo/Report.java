package dev.mlxarena.examples.demo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;

/** The PNG report: per-token time and pool bytes over the run, one series per run side by side. */
final class Report {
  private Report() {}

  /** One run's per-token series; the byte series only for pooled runs. */
  record Series(String name, double[] stepMillis, double[] allocMicros, double @Nullable [] heldMiB,
      double @Nullable [] requestedMiB) {

    static Series of(DemoRun.Result r) {
      boolean pooled = r.mode() == DemoRun.Mode.POOLED;
      return new Series(pooled ? "pooled" : "unpooled",
          r.tokens().stream().mapToDouble(t -> t.stepNanos() / 1e6).toArray(),
          r.tokens().stream().mapToDouble(t -> t.allocNanos() / 1e3).toArray(),
          pooled ? r.tokens().stream().mapToDouble(t -> t.heldBytes() / 1048576.0).toArray() : null,
          pooled ? r.tokens().stream().mapToDouble(t -> t.requestedBytes() / 1048576.0).toArray() : null);
    }

    static Series of(GpuRun.Result r) {
      return new Series(r.mode().label,
          r.tokens().stream().mapToDouble(t -> t.stepNanos() / 1e6).toArray(),
          r.tokens().stream().mapToDouble(t -> Math.max(0, t.allocRecycleNanos() - t.allocations() * r.timerNanos()) / 1e3)
              .toArray(),
          null, null);
    }
  }

  static void write(Path png, List<Series> runs) throws IOException {
    System.setProperty("java.awt.headless", "true");
    XYChart time = chart("Time per token", "milliseconds");
    XYChart alloc = chart("Allocating and recycling per token", "microseconds");
    XYChart bytes = chart("Pool memory", "MiB");
    for (Series r : runs) {
      List<Integer> x = IntStream.range(0, r.stepMillis().length).boxed().toList();
      time.addSeries(r.name(), x, box(r.stepMillis()));
      alloc.addSeries(r.name(), x, box(r.allocMicros()));
      if (r.heldMiB() != null && r.requestedMiB() != null) {
        bytes.addSeries("held by the pool", x, box(r.heldMiB()));
        bytes.addSeries("requested per token", x, box(r.requestedMiB()));
      }
    }
    List<Chart<?, ?>> charts = new ArrayList<>(List.of(time, alloc));
    if (!bytes.getSeriesMap().isEmpty()) {
      charts.add(bytes);
    }
    String file = png.toString();
    String base = file.toLowerCase(Locale.ROOT).endsWith(".png") ? file.substring(0, file.length() - 4) : file;
    BitmapEncoder.saveBitmap(charts, charts.size(), 1, base, BitmapEncoder.BitmapFormat.PNG);
  }

  private static List<Double> box(double[] v) {
    return Arrays.stream(v).boxed().toList();
  }

  private static XYChart chart(String title, String yTitle) {
    XYChart c = new XYChartBuilder().width(900).height(300).title(title).xAxisTitle("token").yAxisTitle(yTitle).build();
    c.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
    c.getStyler().setMarkerSize(0);
    c.getStyler().setYAxisMin(0.0);
    c.getStyler().setYAxisDecimalPattern("#,##0.##");
    c.getStyler().setXAxisTickMarkSpacingHint(80);
    return c;
  }
}
