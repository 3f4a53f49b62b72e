/**
 * Devices, streams and residency sets for tests: {@link dev.mlxarena.testing.TestDevice} with
 * injectable failures and counted allocations, and {@link dev.mlxarena.testing.DeviceHarness}, what
 * the contract tests in {@code dev.mlxarena} ask of a device under test.
 */
@NullMarked
package dev.mlxarena.testing;

import org.jspecify.annotations.NullMarked;
