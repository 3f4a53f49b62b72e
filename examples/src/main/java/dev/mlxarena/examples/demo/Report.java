package dev.mlxarena.examples.demo;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;

/**
 * The PNG report: per-token time, allocation cost and pool bytes over the run, one series per run
 * side by side, the panels stacked under a title that names the run's settings.
 *
 * <p>Time panels use a logarithmic axis: a single slow token (a JIT pause, a fresh device
 * allocation) is a spike a hundred times the steady value, and on a linear axis it would flatten
 * every other token onto zero. Each meaning keeps one colour in every panel, and legends sit beside
 * the plot, never over the lines.
 */
final class Report {
  /** The smallest value a logarithmic panel shows: a token that took less is drawn at this floor. */
  static final double LOG_FLOOR = 0.01;

  /** One colour per meaning, the same in every panel; a run named otherwise takes the next spare one. */
  private static final Map<String, Color> COLOURS = Map.of(
      "pooled", new Color(31, 119, 180),
      "unpooled", new Color(255, 127, 14),
      "held by the pool", new Color(44, 160, 44),
      "requested per token", new Color(127, 127, 127));
  private static final List<Color> SPARE = List.of(
      new Color(214, 39, 40), new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194));

  private Report() {}

  /** One run's per-token series; the byte series only for pooled runs. */
  record Series(String name, double[] stepMillis, double[] allocMicros, double @Nullable [] heldBytes,
      double @Nullable [] requestedBytes) {

    static Series of(DemoRun.Result r) {
      boolean pooled = r.mode() == DemoRun.Mode.POOLED;
      return new Series(pooled ? "pooled" : "unpooled",
          r.tokens().stream().mapToDouble(t -> t.stepNanos() / 1e6).toArray(),
          r.tokens().stream().mapToDouble(t -> t.allocNanos() / 1e3).toArray(),
          pooled ? r.tokens().stream().mapToDouble(DemoRun.TokenStat::heldBytes).toArray() : null,
          pooled ? r.tokens().stream().mapToDouble(DemoRun.TokenStat::requestedBytes).toArray() : null);
    }

    static Series of(GpuRun.Result r) {
      return new Series(r.mode().label,
          r.tokens().stream().mapToDouble(t -> t.stepNanos() / 1e6).toArray(),
          r.tokens().stream().mapToDouble(t -> Math.max(0, t.allocRecycleNanos() - t.allocations() * r.timerNanos()) / 1e3)
              .toArray(),
          null, null);
    }
  }

  /**
   * Checks, before a run, that {@code png} can be written: its folder exists and is writable, and
   * it is not a folder itself.
   *
   * @throws IllegalArgumentException saying which
   */
  static void checkWritable(Path png) {
    Path file = png.toAbsolutePath();
    Path folder = file.getParent();
    if (Files.isDirectory(file)) {
      throw new IllegalArgumentException("--report " + png + " is a folder: give a file name, e.g. " + file.resolve("report.png"));
    }
    if (folder == null || !Files.isDirectory(folder)) {
      throw new IllegalArgumentException("--report " + png + ": the folder " + folder + " does not exist");
    }
    if (Files.exists(file) ? !Files.isWritable(file) : !Files.isWritable(folder)) {
      throw new IllegalArgumentException("--report " + png + ": cannot write there");
    }
  }

  /** Writes the panels for {@code runs} under {@code title} to {@code png} ({@code .png} added if missing). */
  static void write(Path png, String title, List<Series> runs) throws IOException {
    System.setProperty("java.awt.headless", "true");
    List<XYChart> charts = charts(title, runs);
    String file = png.toString();
    String base = file.toLowerCase(Locale.ROOT).endsWith(".png") ? file.substring(0, file.length() - 4) : file;
    BitmapEncoder.saveBitmap(new ArrayList<Chart<?, ?>>(charts), charts.size(), 1, base, BitmapEncoder.BitmapFormat.PNG);
  }

  /** Writes the panels without a settings title. */
  static void write(Path png, List<Series> runs) throws IOException {
    write(png, "", runs);
  }

  /** The panels: time per token, allocating and recycling per token, and pool bytes if a run was pooled. */
  static List<XYChart> charts(String title, List<Series> runs) {
    XYChart time = chart(title.isEmpty() ? "Time per token" : title + ": time per token", "milliseconds (log scale)");
    XYChart alloc = chart("Allocating and recycling per token", "microseconds (log scale)");
    time.getStyler().setYAxisLogarithmic(true);
    alloc.getStyler().setYAxisLogarithmic(true);
    double mostBytes = runs.stream().filter(r -> r.heldBytes() != null)
        .flatMapToDouble(r -> Arrays.stream(r.heldBytes())).max().orElse(0);
    String unit = byteUnit(mostBytes);
    double scale = byteScale(unit);
    XYChart bytes = chart("Pool memory", unit);
    bytes.getStyler().setYAxisMin(0.0);
    Map<String, Color> palette = palette(runs);
    for (Series r : runs) {
      List<Integer> x = IntStream.range(0, r.stepMillis().length).boxed().toList();
      add(time, palette, r.name(), x, floored(r.stepMillis()));
      add(alloc, palette, r.name(), x, floored(r.allocMicros()));
      if (r.heldBytes() != null && r.requestedBytes() != null) {
        add(bytes, palette, "held by the pool", x, scaled(r.heldBytes(), scale));
        add(bytes, palette, "requested per token", x, scaled(r.requestedBytes(), scale));
      }
    }
    List<XYChart> charts = new ArrayList<>(List.of(time, alloc));
    if (!bytes.getSeriesMap().isEmpty()) {
      charts.add(bytes);
    }
    for (XYChart c : List.of(time, alloc)) {
      // Labels between the decades only where the panel spans little more than one: there they
      // give the scale, across several decades they would overlap.
      c.getStyler().setYAxisLogarithmicDecadeOnly(decades(c) > 1.5);
    }
    return charts;
  }

  /** How many decades the values of {@code chart} span. */
  private static double decades(XYChart chart) {
    double[] y = chart.getSeriesMap().values().stream().flatMapToDouble(s -> Arrays.stream(s.getYData())).toArray();
    double most = Arrays.stream(y).max().orElse(1);
    double least = Arrays.stream(y).min().orElse(1);
    return Math.log10(most / least);
  }

  /** The unit that shows {@code most} bytes as a number of at least 1: B, KiB, MiB or GiB. */
  static String byteUnit(double most) {
    return most >= 1L << 30 ? "GiB" : most >= 1L << 20 ? "MiB" : most >= 1L << 10 ? "KiB" : "bytes";
  }

  private static double byteScale(String unit) {
    return switch (unit) {
      case "GiB" -> 1L << 30;
      case "MiB" -> 1L << 20;
      case "KiB" -> 1L << 10;
      default -> 1;
    };
  }

  /** The colour of each series name: the fixed ones, then spare colours for other runs in their order. */
  static Map<String, Color> palette(List<Series> runs) {
    Map<String, Color> palette = new HashMap<>(COLOURS);
    for (Series r : runs) {
      if (!palette.containsKey(r.name())) {
        palette.put(r.name(), SPARE.get((palette.size() - COLOURS.size()) % SPARE.size()));
      }
    }
    return palette;
  }

  private static void add(XYChart chart, Map<String, Color> palette, String name, List<Integer> x, List<Double> y) {
    XYSeries s = chart.addSeries(name, x, y);
    s.setLineColor(palette.get(name));
    s.setLineWidth(1.5f);
  }

  private static List<Double> floored(double[] v) {
    return Arrays.stream(v).map(d -> Math.max(LOG_FLOOR, d)).boxed().toList();
  }

  private static List<Double> scaled(double[] v, double scale) {
    return Arrays.stream(v).map(d -> d / scale).boxed().toList();
  }

  private static XYChart chart(String title, String yTitle) {
    XYChart c = new XYChartBuilder().width(1100).height(320).title(title).xAxisTitle("token").yAxisTitle(yTitle).build();
    c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
    c.getStyler().setMarkerSize(0);
    c.getStyler().setYAxisDecimalPattern("#,##0.##");
    c.getStyler().setXAxisDecimalPattern("#,##0");
    return c;
  }
}
