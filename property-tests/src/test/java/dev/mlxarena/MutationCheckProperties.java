package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.testing.TestDevice;
import java.util.Iterator;
import net.jqwik.api.Example;
import net.jqwik.api.state.ActionChain;

/**
 * Proves the model-based property can fail: with each planted fault switched on, some generated
 * chain must break an invariant. A suite that passed here would be a suite that checks nothing.
 */
class MutationCheckProperties {
  private static final int MAX_CHAINS = 400;

  private void assertCaught(PlantedFault fault) {
    PlantedFault.active = fault;
    try {
      Iterator<ActionChain<PoolMachine>> chains =
          PoolActions.chains(new PoolMachineFactory(TestDevice::withResidency, true)).sampleStream().iterator();
      for (int i = 0; i < MAX_CHAINS; i++) {
        try {
          chains.next().withInvariant(PoolMachine::checkInvariants).run();
        } catch (AssertionError | RuntimeException caught) {
          return;
        }
      }
      throw new AssertionError(fault + " survived " + MAX_CHAINS + " chains: the properties miss it");
    } finally {
      PlantedFault.active = PlantedFault.NONE;
    }
  }

  @Example
  void aBufferPushedTwiceIsCaught() {
    assertCaught(PlantedFault.DOUBLE_PUSH);
  }

  @Example
  void aResetThatKeepsHandlesLiveIsCaught() {
    assertCaught(PlantedFault.RESET_KEEPS_HANDLES_LIVE);
  }

  @Example
  void aFreshAllocationNotZeroedIsCaught() {
    assertCaught(PlantedFault.FRESH_NOT_ZEROED);
  }

  @Example
  void aMissingResidencyCommitIsCaught() {
    assertCaught(PlantedFault.NO_RESIDENCY_COMMIT);
  }

  @Example
  void withoutAFaultNothingIsCaught() {
    assertTrue(PlantedFault.active == PlantedFault.NONE);
    PoolActions.chains(new PoolMachineFactory(TestDevice::withResidency, true)).sampleStream().limit(50)
        .forEach(c -> c.withInvariant(PoolMachine::checkInvariants).run().finish());
  }
}
