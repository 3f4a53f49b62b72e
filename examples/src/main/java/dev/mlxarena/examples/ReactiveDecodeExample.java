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
 */
public final class ReactiveDecodeExample {
  private ReactiveDecodeExample() {}

  /** The decoder's state: the last token and the session's cache. */
  record State(int last, Buffer cache) {}

  public static void main(String[] args) {
    run(System.out, 8);
  }

  static List<TokenEvent<Integer>> run(PrintStream out, int tokens) {
    try (Device device = Devices.systemDefault(); BufferPool pool = BufferPool.create(device)) {
      DecodeLoop<State, Integer> loop =
          DecodeLoop.<State, Integer>builder(
                  pool,
                  (token, s) -> {
                    Buffer logits = token.alloc(64 * 4, DType.F32, 64);
                    for (int i = 0; i < 64; i++) {
                      logits.putF32(i, (i * 31 + s.last() * 17) % 64); // a kernel would run here
                    }
                    int next = 0;
                    for (int i = 1; i < 64; i++) {
                      next = logits.getF32(i) > logits.getF32(next) ? i : next;
                    }
                    s.cache().putI32(s.last() % 16, next);
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
}
