package dev.mlxarena.examples.demo;

import dev.mlxarena.DType;
import dev.mlxarena.cuda.CudaStream;
import dev.mlxarena.cuda.CudaTimeline;
import dev.mlxarena.cuda.NcclComm;
import dev.mlxarena.cuda.NcclOp;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One rank's all-reduces in a tensor-parallel decoder: after the output projection and after the
 * down projection of every layer, the partial products of the ranks are summed in place, on the
 * rank's stream, in stream order with its kernels. Every call is counted (and, when profiling,
 * timed on the host) by the {@link OpTimer} the kernels report to.
 *
 * <p>For the profile, the all-reduces of chosen tokens are also timed on the GPU ({@link
 * #timeTokens}): a timing event before and after each, so that the time between them is the
 * collective on this GPU from its start to its end, waiting for the other ranks to arrive
 * included. Used by the rank's decode thread only.
 */
final class TpCollective implements AutoCloseable {
  final NcclComm comm;
  /**
   * Whether the rank's next runs register their pooled buffers with {@link #comm} ({@link
   * GpuEngine#pool}); every rank of a communicator must say the same. Set between runs.
   */
  boolean registerBuffers;
  private final CudaStream stream;
  private final DType dtype;
  private final OpTimer ops;
  private final int perToken;
  private @Nullable CudaTimeline marks;
  /** The sample being recorded, or -1. */
  private int sample = -1;
  private int next;

  TpCollective(NcclComm comm, CudaStream stream, DType dtype, OpTimer ops, int layers) {
    this.comm = comm;
    this.stream = stream;
    this.dtype = dtype;
    this.ops = ops;
    this.perToken = 2 * layers;
  }

  /** Sums {@code count} elements at {@code buffer} over the ranks, in place. */
  void allReduce(long buffer, long count) {
    CudaTimeline m = marks;
    if (sample >= 0 && m != null) {
      m.mark(next++);
    }
    long t0 = ops.start();
    comm.allReduce(buffer, buffer, count, dtype, NcclOp.SUM, stream);
    ops.ncclCalled(t0);
    if (sample >= 0 && m != null) {
      m.mark(next++);
    }
  }

  /** From now on, {@code samples} tokens' all-reduces can be timed on the GPU (see {@link #sample}). */
  void timeTokens(int samples) {
    stopTiming();
    if (samples > 0) {
      marks = CudaTimeline.create(stream, 2 * perToken * samples);
    }
  }

  /** The token about to be enqueued is sample {@code s} (from 0), or not timed ({@code -1}). */
  void sample(int s) {
    sample = marks == null ? -1 : s;
    next = 2 * perToken * Math.max(0, s);
  }

  /**
   * The GPU times of the sampled tokens' all-reduces, once the stream has passed them: per sample,
   * per all-reduce in order (two a layer: attention, then feed-forward), microseconds.
   */
  List<double[]> times(int samples) {
    CudaTimeline m = marks;
    List<double[]> out = new ArrayList<>();
    if (m == null) {
      return out;
    }
    for (int s = 0; s < samples; s++) {
      double[] t = new double[perToken];
      for (int i = 0; i < perToken; i++) {
        int at = 2 * (perToken * s + i);
        t[i] = m.microsBetween(at, at + 1);
      }
      out.add(t);
    }
    return out;
  }

  /**
   * What the sampled tokens' all-reduces took on the GPU, medians in microseconds: the attention's
   * (after the output projection), the feed-forward's (after the down projection), and the two of a
   * layer together.
   */
  record Times(int samples, double attention, double feedForward, double perLayer) {
    /** The medians of {@link #times}' output; null without samples. */
    static @Nullable Times of(List<double[]> samples) {
      if (samples.isEmpty()) {
        return null;
      }
      int layers = samples.get(0).length / 2;
      double[] attention = new double[samples.size() * layers];
      double[] ffn = new double[attention.length];
      double[] layer = new double[attention.length];
      int i = 0;
      for (double[] t : samples) {
        for (int l = 0; l < layers; l++, i++) {
          attention[i] = t[2 * l];
          ffn[i] = t[2 * l + 1];
          layer[i] = t[2 * l] + t[2 * l + 1];
        }
      }
      return new Times(samples.size(), GpuProfile.median(attention), GpuProfile.median(ffn), GpuProfile.median(layer));
    }
  }

  /** Stops timing and frees the events. */
  void stopTiming() {
    sample = -1;
    if (marks != null) {
      marks.close();
      marks = null;
    }
  }

  @Override
  public void close() {
    stopTiming();
  }
}
