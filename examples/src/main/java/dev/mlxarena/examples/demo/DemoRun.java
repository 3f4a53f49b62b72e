package dev.mlxarena.examples.demo;

import dev.mlxarena.BucketPolicy;
import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.PoolStats;
import dev.mlxarena.Scope;
import dev.mlxarena.reactive.DecodeLoop;
import dev.mlxarena.reactive.Step;
import dev.mlxarena.reactive.TokenEvent;
import dev.mlxarena.spi.Device;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.IntConsumer;
import java.util.zip.CRC32;

/** One generation run of the demo, pooled or not, and what it measured. */
final class DemoRun {
  enum Mode {
    POOLED,
    UNPOOLED
  }

  /** What one token cost. */
  record TokenStat(
      int token, long stepNanos, long allocNanos, int allocations, long requestedBytes,
      long heldBytes, long freshAllocations, long reuseHits) {}

  /** The outcome of a run. */
  record Result(
      Mode mode, String device, List<TokenStat> tokens, long elapsedNanos, PoolStats pool,
      long modelBytes) {

    String checksum() {
      return DemoRun.checksum(tokens.stream().mapToInt(TokenStat::token).toArray());
    }

    List<Integer> tokenIds() {
      return tokens.stream().map(TokenStat::token).toList();
    }

    double tokensPerSecond() {
      return tokens.size() / (elapsedNanos / 1e9);
    }

    double allocationsPerToken() {
      return tokens.stream().mapToInt(TokenStat::allocations).average().orElse(0);
    }

    /** Median time per token spent allocating and recycling scratch, in microseconds. */
    double allocMicrosPerToken() {
      long[] t = tokens.stream().mapToLong(TokenStat::allocNanos).sorted().toArray();
      return t.length == 0 ? 0 : t[t.length / 2] / 1e3;
    }

    /** Fresh device allocations after the first token (0 in steady state). */
    long freshAfterWarmup() {
      return tokens.stream().skip(1).mapToLong(TokenStat::freshAllocations).sum();
    }

    long requestedPerToken() {
      return tokens.stream().mapToLong(TokenStat::requestedBytes).max().orElse(0);
    }

    double reuseRate() {
      long hits = tokens.stream().mapToLong(TokenStat::reuseHits).sum();
      long allocs = tokens.stream().mapToLong(TokenStat::allocations).sum();
      return allocs == 0 ? 0 : (double) hits / allocs;
    }
  }

  /** Counts a token's scratch allocations and the time spent making and freeing them. */
  private abstract static class MeteredScratch implements Scratch {
    long nanos;
    int count;
    long bytes;

    abstract Buffer make(long bytes, DType dtype, long... shape);

    @Override
    public Buffer floats(long elements) {
      return timed(elements * 4, DType.F32, elements);
    }

    @Override
    public Buffer params(int... values) {
      Buffer b = timed(values.length * 4L, DType.I32, values.length);
      b.copyFrom(values);
      return b;
    }

    private Buffer timed(long bytes, DType dtype, long... shape) {
      long t0 = System.nanoTime();
      Buffer b = make(bytes, dtype, shape);
      nanos += System.nanoTime() - t0;
      count++;
      this.bytes += bytes;
      return b;
    }
  }

  /** Pooled: scratch from the token scope, recycled when the loop closes it. */
  private static final class ScopeScratch extends MeteredScratch {
    private final Scope scope;

    ScopeScratch(Scope scope) {
      this.scope = scope;
    }

    @Override
    Buffer make(long bytes, DType dtype, long... shape) {
      return scope.alloc(bytes, dtype, shape);
    }
  }

  /** Unpooled: every buffer from the device, exact-size and zero-filled, freed at token end. */
  private static final class DeviceScratch extends MeteredScratch {
    private final Device device;
    private final List<Buffer> made = new ArrayList<>();

    DeviceScratch(Device device) {
      this.device = device;
    }

    @Override
    Buffer make(long bytes, DType dtype, long... shape) {
      Buffer b = Buffer.allocOwned(device, bytes, dtype, shape);
      made.add(b);
      return b;
    }

    void freeAll() {
      long t0 = System.nanoTime();
      made.forEach(Buffer::close);
      nanos += System.nanoTime() - t0;
    }
  }

  private record State(int token, int pos, TinyTransformer.KvCache kv) {}

  /** A step's token and its own measurements, carried to the subscriber with the token. */
  private record Gen(int token, long allocNanos, int allocations, long bytes, long inStepNanos) {}

  private DemoRun() {}

  /** The CRC-32 of the token ids as big-endian ints: the same for the same tokens on every backend. */
  static String checksum(int[] ids) {
    CRC32 crc = new CRC32();
    ByteBuffer b = ByteBuffer.allocate(4);
    for (int id : ids) {
      crc.update(b.clear().putInt(id).flip());
    }
    return String.format("%08x", crc.getValue());
  }

  static Result run(
      Device device, Mode mode, BucketPolicy policy, boolean poison, ModelConfig cfg, int tokens, long seed,
      IntConsumer progress) {
    return run(device, mode, PoolOptions.builder().bucketPolicy(policy).poisonOnRecycle(poison).build(), cfg, tokens,
        seed, progress);
  }

  /** A run whose pool (pooled mode) has {@code options}: its policy, limits, poisoning. */
  static Result run(
      Device device, Mode mode, PoolOptions options, ModelConfig cfg, int tokens, long seed, IntConsumer progress) {
    try (BufferPool pool = BufferPool.create(device, options);
        TinyTransformer model = new TinyTransformer(device, cfg, seed)) {
      if (mode == Mode.POOLED) {
        model.registerWith(pool);
      }
      int start = (int) Math.floorMod(seed, (long) cfg.vocab());
      DecodeLoop<State, Gen> loop =
          DecodeLoop.<State, Gen>builder(
                  pool,
                  (scope, st) -> {
                    long t0 = System.nanoTime();
                    MeteredScratch s = mode == Mode.POOLED ? new ScopeScratch(scope) : new DeviceScratch(device);
                    int next = model.forward(st.token(), st.pos(), st.kv(), s);
                    if (s instanceof DeviceScratch d) {
                      d.freeAll();
                    }
                    long inStep = System.nanoTime() - t0;
                    return Step.of(new State(next, st.pos() + 1, st.kv()),
                        new Gen(next, s.nanos, s.count, s.bytes, inStep));
                  })
              .initialState(session -> new State(start, 0, session.own(new TinyTransformer.KvCache(device, cfg))))
              .maxTokens(tokens)
              .build();
      long t0 = System.nanoTime();
      List<TokenEvent<Gen>> events =
          Objects.requireNonNull(
              loop.events()
                  .doOnNext(e -> progress.accept((int) e.index() + 1))
                  .collectList()
                  .block());
      long elapsed = System.nanoTime() - t0;
      List<TokenStat> stats = new ArrayList<>(events.size());
      for (TokenEvent<Gen> e : events) {
        Gen g = e.token();
        // Pooled: scratch is recycled when the loop closes the token scope, outside the step.
        long recycle = mode == Mode.POOLED ? Math.max(0, e.stepTime().toNanos() - g.inStepNanos()) : 0;
        stats.add(new TokenStat(g.token(), e.stepTime().toNanos(), g.allocNanos() + recycle, g.allocations(),
            g.bytes(), e.poolDelta().heldBytes(), e.poolDelta().freshAllocations(), e.poolDelta().reuseHits()));
      }
      return new Result(mode, device.name(), stats, elapsed, pool.stats(), cfg.weightBytes() + cfg.kvBytes());
    }
  }
}
