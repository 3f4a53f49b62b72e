package dev.mlxarena;

import java.util.List;
import java.util.function.Predicate;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.ActionChainArbitrary;
import net.jqwik.api.state.Transformer;

/**
 * The actions of the model-based chains. Each is independent: it draws its arguments (sizes,
 * indexes) without looking at the state and resolves indexes against the live handles when it
 * runs, so a failing chain shrinks by dropping and simplifying actions freely.
 */
final class PoolActions {
  private PoolActions() {}

  /** Chain length: {@code -Dmlxarena.props.actions=N} for long local runs. */
  static int maxActions() {
    return Integer.getInteger("mlxarena.props.actions", 40);
  }

  static ActionChainArbitrary<PoolMachine> chains(PoolMachineFactory factory) {
    ActionChainArbitrary<PoolMachine> chains =
        ActionChain.startWith(factory::create)
            .withAction(6, action(Combinators.combine(sizes(), scopeChoice())
                .as((n, s) -> Transformer.mutate("alloc " + n + " B (scope " + s + ")", m -> m.alloc(n, s)))))
            .withAction(1, action(Combinators.combine(sizes().list().ofMinSize(1).ofMaxSize(4), scopeChoice())
                .as((ns, s) -> Transformer.mutate("allocBatch " + ns + " (scope " + s + ")", m -> m.allocBatch(ns, s)))))
            .withAction(3, when(m -> !m.live.isEmpty(), Combinators.combine(index(), Arbitraries.of(true, false))
                .as((i, c) -> Transformer.mutate((c ? "close" : "release") + " live #" + i, m -> m.release(i, c)))))
            .withAction(2, action(Arbitraries.just(Transformer.mutate("reset", PoolMachine::reset))))
            .withAction(3, action(Arbitraries.integers().between(0, 2)
                .map(k -> Transformer.mutate("openScope" + (k == 0 ? "" : " on " + "AB".charAt(k - 1)),
                    m -> m.openScope(k)))))
            .withAction(2, action(Combinators.combine(Arbitraries.integers().between(0, 1), Arbitraries.integers().between(0, 2))
                .as((st, lag) -> Transformer.mutate("stream " + "AB".charAt(st) + " catches up to its fence -" + lag,
                    m -> m.completeFences(st, lag)))))
            .withAction(2, when(m -> !m.scopes.isEmpty(), index()
                .map(i -> Transformer.mutate("close scope #" + i, m -> m.closeScope(i)))))
            .withAction(1, action(Arbitraries.of(true, false)
                .map(t -> Transformer.mutate("registerExisting" + (t ? " twice" : ""), m -> m.registerExisting(t)))))
            .withAction(1, action(Arbitraries.just(Transformer.mutate("clear", PoolMachine::clear))))
            .withAction(2, when(m -> !m.live.isEmpty(), Combinators.combine(index(), Arbitraries.bytes())
                .as((i, v) -> Transformer.mutate("write " + v + " into live #" + i, m -> m.write(i, v)))))
            .withAction(1, action(Arbitraries.just(Transformer.mutate("read every live buffer", PoolMachine::readAll))))
            .withAction(2, when(m -> !m.stale.isEmpty(), index()
                .map(i -> Transformer.mutate("use stale #" + i, m -> m.useStale(i)))))
            .withAction(1, action(Arbitraries.integers().between(0, 3)
                .map(k -> Transformer.mutate("invalid call " + k, m -> m.invalidCall(k)))))
            .withMaxTransformations(maxActions());
    if (factory.injectsFailures()) {
      chains = chains.withAction(1, action(Arbitraries.longs().between(1, 1 << 20)
          .map(n -> Transformer.mutate("failed allocation of " + n + " B", m -> m.failedAllocation(n)))));
    }
    return chains;
  }

  /** Sizes that often share buckets (so reuse happens), with a spread up to a few hundred KiB. */
  static Arbitrary<Long> sizes() {
    return Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(3, Arbitraries.of(1L, 64L, 100L, 1000L, 1024L, 4096L, 5000L)),
        net.jqwik.api.Tuple.of(1, Arbitraries.longs().between(1, 300_000)));
  }

  private static Arbitrary<Integer> scopeChoice() {
    return Arbitraries.integers().between(-1, 3);
  }

  private static Arbitrary<Integer> index() {
    return Arbitraries.integers().between(0, 1000);
  }

  private static Action.Independent<PoolMachine> action(Arbitrary<Transformer<PoolMachine>> t) {
    return when(m -> true, t);
  }

  private static Action.Independent<PoolMachine> when(
      Predicate<PoolMachine> pre, Arbitrary<Transformer<PoolMachine>> t) {
    return new Action.Independent<>() {
      @Override
      public boolean precondition(PoolMachine state) {
        return pre.test(state);
      }

      @Override
      public Arbitrary<Transformer<PoolMachine>> transformer() {
        return t;
      }
    };
  }

  /** Names the coverage the chains must reach on every device. */
  static final List<String> ALWAYS_COVERED =
      List.of(
          "reuse",
          "reuse from the scope's reserve",
          "fresh",
          "batch",
          "release+reset in one cycle",
          "stale access after released",
          "stale access after closed",
          "stale access after reset",
          "stale access after scope closed",
          "registered",
          "invalid call refused",
          // S1: stream-ordered reuse
          "scope closed on a stream",
          "released on a stream",
          "stream reserve adopted",
          "reused on its own stream before its fence completed",
          "reused elsewhere after its stream's fence completed",
          "lane collected");
}
