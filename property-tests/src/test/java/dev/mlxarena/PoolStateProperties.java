package dev.mlxarena;

import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.statistics.Statistics;

/**
 * The model-based property, written once: any chain of pool operations keeps A1 to A4, B5, Z1, C1,
 * R1 and S1 (see DESIGN.md), checked after every action. One subclass per device; coverage checks
 * make sure the chains actually reached reuse, fresh allocation, batches, release mixed with reset
 * in one cycle, stale access after every kind of death, registration, refused calls, residency
 * commits, injected failures where the device has them, and stream-ordered reuse: hand-backs on a
 * stream, reuse on that stream before its fence completed, and elsewhere only after it had.
 */
abstract class PoolStateProperties {

  /** The device under test, as a harness. */
  abstract PoolMachineFactory factory();

  @Property
  void poolAgreesWithItsModelAfterEveryAction(@ForAll("chains") ActionChain<PoolMachine> chain) {
    PoolMachine m = chain.withInvariant("A1-A4, B5, Z1, C1, R1, S1", PoolMachine::checkInvariants).run();
    m.finish();
    for (String e : PoolActions.ALWAYS_COVERED) {
      Statistics.label(e).collect(m.events.contains(e));
    }
    Statistics.label("residency commit").collect(m.events.contains("residency commit"));
    Statistics.label("injected failure").collect(m.events.contains("injected failure"));
    for (String e : PoolActions.ALWAYS_COVERED) {
      Statistics.label(e).coverage(c -> c.check(true).count(n -> n > 0));
    }
    if (m.residency) {
      Statistics.label("residency commit").coverage(c -> c.check(true).count(n -> n > 0));
    }
    if (factory().injectsFailures()) {
      Statistics.label("injected failure").coverage(c -> c.check(true).count(n -> n > 0));
    }
  }

  @Provide
  Arbitrary<ActionChain<PoolMachine>> chains() {
    return PoolActions.chains(factory());
  }
}
