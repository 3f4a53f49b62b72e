package dev.mlxarena.examples;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.Devices;
import dev.mlxarena.reactive.DecodeLoop;
import dev.mlxarena.reactive.Step;
import dev.mlxarena.reactive.TokenEvent;
import dev.mlxarena.spi.Device;
import java.io.PrintStream;
import java.util.List;
import java.util.Objects;

/**
 * A {@link DecodeLoop} with per-token events: each token runs in its own scope, the "KV cache"
 * lives in the session scope, and every event carries the token's step time and its pool
 * statistics.
 *
 * <p>The host reaches the buffers through the bulk copies ({@code copyFrom}, {@code copyTo}, on a
 * {@code sliceView} for one element), which work on every device, device-private GPU memory
 * included.
 */
public final class ReactiveDecodeExample {
  private ReactiveDecodeExample() {}

  /** The decoder's state: the last token and the session's cache. */
  record State(int last, Buffer cache) {}

  public static void main(String[] args) {
    try (Device device = Devices.systemDefault()) {
      run(device, System.out, 8);
    }
  }

  /** Runs {@code tokens} tokens on {@code device}, printing each one's event. */
  static List<TokenEvent<Integer>> run(Device device, PrintStream out, int tokens) {
    try (BufferPool pool = BufferPool.create(device)) {
      DecodeLoop<State, Integer> loop =
          DecodeLoop.<State, Integer>builder(
                  pool,
                  (token, s) -> {
                    Buffer logits = token.alloc(64 * 4, DType.F32, 64);
                    logits.copyFrom(fakeLogits(s.last())); // a kernel would write them on the device
                    float[] host = new float[64];
                    logits.copyTo(host); // the host reads them back to pick the next token
                    int next = 0;
                    for (int i = 1; i < 64; i++) {
                      next = host[i] > host[next] ? i : next;
                    }
                    s.cache().sliceView(4L * (s.last() % 16), 1).copyFrom(new int[] {next});
                    return Step.of(new State(next, s.cache()), next);
                  })
              .initialState(session -> new State(1, session.scope().alloc(16 * 4, DType.I32, 16)))
              .maxTokens(tokens)
              .build();
      List<TokenEvent<Integer>> events =
          Objects.requireNonNull(
              loop.events()
                  .doOnNext(e -> out.printf("token %d = %d in %d us, %d allocations, %d reuse hits, %d fresh%n",
                      e.index(), e.token(), e.stepTime().toNanos() / 1000, e.poolDelta().allocations(),
                      e.poolDelta().reuseHits(), e.poolDelta().freshAllocations()))
                  .collectList()
                  .block());
      out.println("in use after the loop: " + pool.inUseCount());
      return events;
    }
  }

  /** What a model's logits would be after {@code last}: a fixed, repeatable scramble. */
  private static float[] fakeLogits(int last) {
    float[] logits = new float[64];
    for (int i = 0; i < 64; i++) {
      logits[i] = (i * 31 + last * 17) % 64;
    }
    return logits;
  }
}
