package dev.mlxarena;

import dev.mlxarena.testing.DeviceHarness;
import java.util.function.Supplier;

/**
 * Makes the machine of one chain: a fresh device harness and pool for every try, with the given
 * bucket policy, and poisoning recycled buffers if {@code poison}.
 */
record PoolMachineFactory(
    Supplier<DeviceHarness> harness, boolean injectsFailures, BucketPolicy policy, boolean poison) {
  PoolMachineFactory(Supplier<DeviceHarness> harness, boolean injectsFailures) {
    this(harness, injectsFailures, BucketPolicy.powerOfTwo());
  }

  PoolMachineFactory(Supplier<DeviceHarness> harness, boolean injectsFailures, BucketPolicy policy) {
    this(harness, injectsFailures, policy, false);
  }

  PoolMachine create() {
    return new PoolMachine(harness, injectsFailures, policy, poison);
  }
}
