package dev.mlxarena.metal;

import com.sun.jna.Library;
import com.sun.jna.Pointer;
import org.jspecify.annotations.Nullable;

/**
 * The {@code mlxshim.h} C ABI as a JNA library interface: one Java declaration per C function,
 * implemented by both the Metal library ({@code libmlxshim}) and the simulation ({@code
 * libmlxshim_sim}). Ownership follows the header: functions returning objects return +1
 * references that the matching {@code *_release} gives back.
 *
 * <p>Interface mapping rather than direct mapping, because one declaration must serve two native
 * libraries in the same JVM (tests on macOS use both); direct mapping binds one library per class.
 * None of these calls is on the pool's steady-state path: they run on fresh allocation, free and
 * residency changes.
 *
 * <p>Errors come back through {@code err}/{@code errCap}: a byte array the library writes a
 * NUL-terminated message into, with a non-zero status, {@code null} or the sentinel the header
 * names. {@code mlxshim.h} lists the rules a caller follows; the simulation refuses every breach.
 */
public interface ShimLibrary extends Library {
  /** The ABI version this jar needs ({@code MLXSHIM_ABI_VERSION}). */
  int ABI_VERSION = 2;

  int mlxshim_abi_version();

  @Nullable Pointer mlxshim_device_create(byte[] err, int errCap);

  int mlxshim_device_release(Pointer device, byte[] err, int errCap);

  int mlxshim_device_name(Pointer device, byte[] out, int cap, byte[] err, int errCap);

  long mlxshim_device_recommended_working_set(Pointer device, byte[] err, int errCap);

  @Nullable Pointer mlxshim_device_native(Pointer device, byte[] err, int errCap);

  int mlxshim_residency_supported(Pointer device, byte[] err, int errCap);

  @Nullable Pointer mlxshim_buffer_new(Pointer device, long length, int storage, byte[] err, int errCap);

  @Nullable Pointer mlxshim_buffer_contents(Pointer buffer);

  long mlxshim_buffer_length(Pointer buffer);

  int mlxshim_buffer_release(Pointer buffer, byte[] err, int errCap);

  int mlxshim_buffer_fill_zero(
      Pointer device, Pointer buffer, long offset, long length, byte[] err, int errCap);

  int mlxshim_buffer_write(
      Pointer device, Pointer buffer, long offset, Pointer src, long length, byte[] err, int errCap);

  int mlxshim_buffer_read(
      Pointer device, Pointer buffer, long offset, Pointer dst, long length, byte[] err, int errCap);

  @Nullable Pointer mlxshim_residency_new(
      Pointer device, int initialCapacity, String label, byte[] err, int errCap);

  int mlxshim_residency_add(Pointer set, Pointer buffer, byte[] err, int errCap);

  int mlxshim_residency_remove(Pointer set, Pointer buffer, byte[] err, int errCap);

  int mlxshim_residency_commit(Pointer set, byte[] err, int errCap);

  /** {@code -1} (UINT64_MAX) on failure. */
  long mlxshim_residency_allocated_size(Pointer set, byte[] err, int errCap);

  int mlxshim_residency_count(Pointer set, byte[] err, int errCap);

  @Nullable Pointer mlxshim_residency_native(Pointer set, byte[] err, int errCap);

  int mlxshim_residency_release(Pointer set, byte[] err, int errCap);
}
