package dev.mlxarena.examples.demo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;

/** The PNG report: per-token time and pool bytes over the run, pooled beside unpooled. */
final class Report {
  private Report() {}

  static void write(Path png, List<DemoRun.Result> runs) throws IOException {
    System.setProperty("java.awt.headless", "true");
    XYChart time = chart("Time per token", "milliseconds");
    XYChart alloc = chart("Allocating and recycling per token", "microseconds");
    XYChart bytes = chart("Pool memory", "MiB");
    for (DemoRun.Result r : runs) {
      List<Integer> x = IntStream.range(0, r.tokens().size()).boxed().toList();
      String name = r.mode() == DemoRun.Mode.POOLED ? "pooled" : "unpooled";
      time.addSeries(name, x, r.tokens().stream().map(t -> t.stepNanos() / 1e6).toList());
      alloc.addSeries(name, x, r.tokens().stream().map(t -> t.allocNanos() / 1e3).toList());
      if (r.mode() == DemoRun.Mode.POOLED) {
        bytes.addSeries("held by the pool", x, r.tokens().stream().map(t -> t.heldBytes() / 1048576.0).toList());
        bytes.addSeries("requested per token", x,
            r.tokens().stream().map(t -> t.requestedBytes() / 1048576.0).toList());
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
