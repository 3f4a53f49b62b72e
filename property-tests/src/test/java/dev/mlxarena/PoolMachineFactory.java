package dev.mlxarena;

import dev.mlxarena.testing.DeviceHarness;
import java.util.function.Supplier;

/** Makes the machine of one chain: a fresh device harness and pool for every try. */
record PoolMachineFactory(Supplier<DeviceHarness> harness, boolean injectsFailures, BucketPolicy policy) {
  PoolMachineFactory(Supplier<DeviceHarness> harness, boolean injectsFailures) {
    this(harness, injectsFailures, BucketPolicy.powerOfTwo());
  }

  PoolMachine create() {
    return new PoolMachine(harness, injectsFailures, policy);
  }
}
