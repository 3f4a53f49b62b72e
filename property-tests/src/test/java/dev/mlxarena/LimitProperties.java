package dev.mlxarena;

import dev.mlxarena.testing.TestDevice;
import dev.mlxarena.testing.TestStream;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;
import net.jqwik.api.statistics.Statistics;

/**
 * L1: under any chain of operations, fence-deferred hand-backs and scopes on a stream included,
 * cached bytes never exceed the cache limit and held bytes never exceed the memory limit after a
 * public call, a request refused by the limit leaves the pool as it was, and the pool's own
 * invariants (A2 with deferred buffers and streams' lanes, C1, R1) hold throughout. A stream's
 * buffers count as waiting until its fence completes: neither limit may free them before. Eviction order is the pool's
 * business (least recently used buckets first), so this property checks bounds and consistency
 * rather than following every eviction in a model.
 */
class LimitProperties {

  static final class Limited {
    final TestDevice device = TestDevice.withResidency();
    final TestStream stream = new TestStream(device, "A");
    final long cacheLimit;
    final long memoryLimit;
    final BufferPool pool;
    final List<Buffer> live = new ArrayList<>();
    final List<Scope> scopes = new ArrayList<>();
    final List<java.util.concurrent.CompletableFuture<Void>> fences = new ArrayList<>();
    boolean refused;
    boolean evicted;
    boolean fenced;
    boolean streamed;

    Limited(long cacheLimit, long memoryLimit, BucketPolicy policy) {
      this.cacheLimit = cacheLimit;
      this.memoryLimit = memoryLimit;
      this.pool = BufferPool.create(device, PoolOptions.builder()
          .cacheLimit(cacheLimit).memoryLimit(memoryLimit).bucketPolicy(policy).build());
    }

    void alloc(long bytes, int scope) {
      // Every allocation under the lock first collects completed fences; do that housekeeping
      // here, so that "before" is the state a refusal must leave untouched.
      pool.trim(Long.MAX_VALUE);
      PoolStats before = pool.stats();
      List<Scope> open = scopes.stream().filter(Scope::isOpen).toList();
      try {
        Buffer b = scope < 0 || open.isEmpty()
            ? pool.alloc(bytes, DType.U8)
            : open.get(scope % open.size()).alloc(bytes, DType.U8);
        live.add(b);
      } catch (PoolExhaustedException e) {
        refused = true;
        PoolMachine.check(before.equals(pool.stats()), "L1: a refused allocation changed the pool");
      }
      evicted |= pool.stats().trims() > 0;
    }

    void release(int i) {
      live.removeIf(b -> !b.isValid());
      if (!live.isEmpty()) {
        live.remove(Math.floorMod(i, live.size())).close();
      }
    }

    /** Closes a scope, or releases a buffer, behind a fence that completes later. */
    void handBackAfterFence(int i, boolean wholeScope) {
      java.util.concurrent.CompletableFuture<Void> f = new java.util.concurrent.CompletableFuture<>();
      List<Scope> open = scopes.stream().filter(Scope::isOpen).toList();
      live.removeIf(b -> !b.isValid());
      if (wholeScope && !open.isEmpty()) {
        open.get(Math.floorMod(i, open.size())).closeAfter(Fence.of(f));
      } else if (!live.isEmpty()) {
        Buffer b = live.remove(Math.floorMod(i, live.size()));
        if (b.isPooled()) {
          pool.release(b, Fence.of(f));
        }
      } else {
        return;
      }
      fences.add(f);
      fenced = true;
      PoolMachine.check(pool.stats().deferredCount() >= 0, "deferred count");
    }

    void completeFence(int i) {
      if (!fences.isEmpty()) {
        fences.remove(Math.floorMod(i, fences.size())).complete(null);
      }
    }

    void openScope(boolean onStream) {
      scopes.add(onStream ? pool.openScope(stream) : pool.openScope());
    }

    void closeScope(int i) {
      if (!scopes.isEmpty()) {
        Scope s = scopes.get(i % scopes.size());
        streamed |= s.stream() != null && s.isOpen();
        s.close();
      }
    }

    void check() {
      PoolInvariants.check(pool);
      PoolMachine.check(stream.violations().isEmpty(), "fences: " + stream.violations());
      PoolStats s = pool.stats();
      PoolMachine.check(s.cachedBytes() <= cacheLimit, "L1: cached " + s.cachedBytes() + " > limit " + cacheLimit);
      PoolMachine.check(s.heldBytes() <= memoryLimit, "L1: held " + s.heldBytes() + " > limit " + memoryLimit);
      PoolMachine.check(device.counting().isClean(), "R1: uncommitted residency changes");
      for (Buffer b : live) {
        PoolMachine.check(!b.isValid() || b.capacity() > 0, "a live handle is broken");
      }
    }
  }

  @Provide
  Arbitrary<ActionChain<Limited>> chains() {
    Arbitrary<Long> sizes = Arbitraries.longs().between(1, 40_000);
    Arbitrary<BucketPolicy> policies = Arbitraries.of(BucketPolicy.powerOfTwo(), BucketPolicy.sizeClasses(4));
    return Combinators.combine(
            Arbitraries.longs().between(0, 200_000), Arbitraries.longs().between(65_536, 400_000), policies)
        .as((cache, memory, policy) -> (java.util.function.Supplier<Limited>) () -> new Limited(cache, memory, policy))
        .flatMap(start -> ActionChain.startWith(start)
            .withAction(5, act(Combinators.combine(sizes, Arbitraries.integers().between(-1, 2))
                .as((n, sc) -> Transformer.<Limited>mutate("alloc " + n, l -> l.alloc(n, sc)))))
            .withAction(3, act(Arbitraries.integers().between(0, 100)
                .map(i -> Transformer.<Limited>mutate("release #" + i, l -> l.release(i)))))
            .withAction(2, act(Arbitraries.of(true, false).map(onStream -> Transformer.<Limited>mutate(
                "openScope" + (onStream ? " on A" : ""), l -> l.openScope(onStream)))))
            .withAction(2, act(Arbitraries.integers().between(0, 10)
                .map(i -> Transformer.<Limited>mutate("close scope #" + i, l -> l.closeScope(i)))))
            .withAction(1, act(Arbitraries.integers().between(0, 2).map(lag -> Transformer.<Limited>mutate(
                "stream A catches up to its fence -" + lag,
                l -> l.stream.completeUpTo(l.stream.recorded().size() - lag)))))
            .withAction(1, act(Arbitraries.just(Transformer.<Limited>mutate("reset", l -> l.pool.reset()))))
            .withAction(1, act(Arbitraries.longs().between(0, 100_000)
                .map(t -> Transformer.<Limited>mutate("trim to " + t, l -> l.pool.trim(t)))))
            .withAction(1, act(Combinators.combine(Arbitraries.integers().between(0, 100), Arbitraries.of(true, false))
                .as((i, whole) -> Transformer.<Limited>mutate((whole ? "closeAfter scope #" : "release after fence #") + i,
                    l -> l.handBackAfterFence(i, whole)))))
            .withAction(1, act(Arbitraries.integers().between(0, 100)
                .map(i -> Transformer.<Limited>mutate("complete fence #" + i, l -> l.completeFence(i)))))
            .withMaxTransformations(PoolActions.maxActions()));
  }

  private static Action.Independent<Limited> act(Arbitrary<Transformer<Limited>> t) {
    return new Action.Independent<>() {
      @Override
      public Arbitrary<Transformer<Limited>> transformer() {
        return t;
      }
    };
  }

  @Property
  void l1LimitsHoldAfterEveryCall(@ForAll("chains") ActionChain<Limited> chain) {
    Limited l = chain.withInvariant("L1", Limited::check).run();
    l.pool.close();
    PoolMachine.check(l.device.liveAllocations() == 0, "leaked device memory");
    PoolMachine.check(l.stream.openFences() == 0 && l.stream.violations().isEmpty(), "fences left open or misused");
    Statistics.label("scope closed on a stream").collect(l.streamed);
    Statistics.label("scope closed on a stream").coverage(c -> c.check(true).count(n -> n > 0));
    Statistics.label("handed back behind a fence").collect(l.fenced);
    Statistics.label("handed back behind a fence").coverage(c -> c.check(true).count(n -> n > 0));
    Statistics.label("refused by the memory limit").collect(l.refused);
    Statistics.label("cache evicted").collect(l.evicted);
    Statistics.label("refused by the memory limit").coverage(c -> c.check(true).count(n -> n > 0));
    Statistics.label("cache evicted").coverage(c -> c.check(true).count(n -> n > 0));
  }
}
