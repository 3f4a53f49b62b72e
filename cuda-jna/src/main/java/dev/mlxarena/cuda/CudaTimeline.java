package dev.mlxarena.cuda;

import static dev.mlxarena.cuda.CudaException.check;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/**
 * Timestamps taken by the GPU in stream order: a fixed set of events created with timing, each
 * recorded at a point of a {@link CudaStream} ({@link #mark}), then read back as the GPU time
 * between two of them ({@link #microsBetween}). For profiles: a mark costs one {@code
 * cuEventRecord} and allocates nothing, so a decode loop can mark every token.
 *
 * <pre>{@code
 * try (CudaTimeline marks = CudaTimeline.create(stream, tokens + 1)) {
 *   for (int t = 0; t < tokens; t++) {
 *     marks.mark(t);
 *     enqueueToken(t);
 *   }
 *   marks.mark(tokens);
 *   double first = marks.microsBetween(0, 1);   // waits for mark 1, then asks the driver
 * }
 * }</pre>
 *
 * <p>The driver's resolution is about half a microsecond. A mark may be recorded again; the
 * times read afterwards are those of its last recording. Used by one thread at a time.
 */
public final class CudaTimeline implements AutoCloseable {
  private final CudaStream stream;
  private final Pointer[] events;
  private final float[] millis = new float[1];
  private boolean closed;

  private CudaTimeline(CudaStream stream, Pointer[] events) {
    this.stream = stream;
    this.events = events;
  }

  /**
   * {@code marks} timing events for {@code stream}.
   *
   * @throws IllegalArgumentException if {@code marks} is below 1
   */
  public static CudaTimeline create(CudaStream stream, int marks) {
    if (marks < 1) {
      throw new IllegalArgumentException("a timeline needs at least one mark, not " + marks);
    }
    CudaDevice device = stream.device();
    device.makeCurrent();
    Pointer[] events = new Pointer[marks];
    try {
      for (int i = 0; i < marks; i++) {
        PointerByReference e = new PointerByReference();
        check(CudaDriver.cuEventCreate(e, CudaDriver.CU_EVENT_DEFAULT), "cuEventCreate");
        events[i] = e.getValue();
      }
    } catch (RuntimeException e) {
      destroy(events);
      throw e;
    }
    return new CudaTimeline(stream, events);
  }

  /** How many marks the timeline has. */
  public int size() {
    return events.length;
  }

  /** Records mark {@code i} at the current end of the stream. */
  public void mark(int i) {
    Pointer e = event(i);
    stream.device().makeCurrent();
    check(CudaDriver.cuEventRecord(e, stream.pointer()), "cuEventRecord");
  }

  /**
   * The GPU time from mark {@code from} to mark {@code to}, in microseconds, after waiting for the
   * GPU to pass {@code to} (and so {@code from}, when it was recorded before on the stream).
   *
   * @throws CudaException if either mark was never recorded, or {@code from} was recorded after
   *     {@code to} on another stream and has not completed
   */
  public double microsBetween(int from, int to) {
    Pointer start = event(from);
    Pointer end = event(to);
    stream.device().makeCurrent();
    int rc = CudaDriver.cuEventSynchronize(end);
    if (rc != CudaDriver.CUDA_SUCCESS) {
      throw stream.asyncFailure("cuEventSynchronize", rc);
    }
    check(CudaDriver.cuEventElapsedTime(millis, start, end), "cuEventElapsedTime",
        "marks " + from + " and " + to + " of " + this);
    return millis[0] * 1e3;
  }

  private Pointer event(int i) {
    if (closed) {
      throw new IllegalStateException(this + " is closed");
    }
    if (i < 0 || i >= events.length) {
      throw new IndexOutOfBoundsException("mark " + i + " of a timeline of " + events.length);
    }
    return events[i];
  }

  /** Destroys the events (the driver keeps one still pending until the stream passes it). Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    stream.device().makeCurrent();
    destroy(events);
  }

  private static void destroy(Pointer[] events) {
    for (Pointer e : events) {
      if (e != null) {
        CudaDriver.cuEventDestroy_v2(e);
      }
    }
  }

  @Override
  public String toString() {
    return "CudaTimeline[" + events.length + " marks on " + stream + "]";
  }
}
