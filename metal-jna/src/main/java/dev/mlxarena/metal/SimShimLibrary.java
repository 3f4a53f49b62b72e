package dev.mlxarena.metal;

import com.sun.jna.Pointer;

/**
 * The simulation shim's test hooks on top of the common ABI: residency support switch, allocation
 * failure injection, and counters. The
 * residency hooks answer {@code -1} for a released set. Only {@code libmlxshim_sim} exports these.
 */
public interface SimShimLibrary extends ShimLibrary {
  void mlxsim_set_residency_supported(Pointer device, int supported);

  void mlxsim_default_residency_supported(int supported);

  void mlxsim_default_residency_creation_fails(int fails);

  void mlxsim_fail_nth_allocation(Pointer device, long n);

  void mlxsim_fail_above(Pointer device, long bytes);

  long mlxsim_live_buffers(Pointer device);

  long mlxsim_allocated_buffers(Pointer device);

  long mlxsim_residency_adds(Pointer set);

  long mlxsim_residency_removes(Pointer set);

  long mlxsim_residency_commits(Pointer set);

  int mlxsim_residency_contains(Pointer set, Pointer buffer);

  int mlxsim_residency_is_clean(Pointer set);
}
