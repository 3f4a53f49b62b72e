/*
 * mlxshim.h: the flat C ABI between mlx-arena's Java side (through JNA) and a Metal device.
 *
 * This header is the one contract every implementation follows:
 *   metal/mlxshim_metal.m  real Metal, built on macOS
 *   sim/mlxshim_sim.c      portable C with the same observable behaviour, for tests on every OS
 *
 * Conventions
 *   - Objects are opaque pointers. A function that returns an object returns it with one
 *     reference owned by the caller (+1); the caller gives it back with the matching *_release.
 *     Functions that take an object borrow it: they neither retain nor release the caller's
 *     reference.
 *   - Functions that can fail take `char *err, int32_t err_cap`: on failure they write a
 *     NUL-terminated message of at most err_cap bytes (err may be NULL when err_cap is 0) and
 *     return NULL or a non-zero status. On success err is left untouched.
 *   - Lengths and offsets are 64-bit.
 *   - Thread safety: device and buffer functions may be called from any thread. A residency set
 *     must not be used by two threads at once (the Java side serialises its calls).
 */
#ifndef MLXSHIM_H
#define MLXSHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLXSHIM_ABI_VERSION 1

/* Storage modes, as MTLResourceStorageMode. */
#define MLXSHIM_STORAGE_SHARED 0  /* CPU and GPU see the same memory; contents() is non-NULL */
#define MLXSHIM_STORAGE_PRIVATE 1 /* GPU only; contents() is NULL, copy through the functions below */

typedef struct mlxshim_device mlxshim_device;
typedef struct mlxshim_buffer mlxshim_buffer;
typedef struct mlxshim_residency mlxshim_residency;

/* The ABI version this library implements (MLXSHIM_ABI_VERSION). */
int32_t mlxshim_abi_version(void);

/* ---------------------------------------------------------------------------------- device */

/* The system default device (MTLCreateSystemDefaultDevice), +1; NULL and err if there is none. */
mlxshim_device *mlxshim_device_create(char *err, int32_t err_cap);

/* Gives back the caller's reference from mlxshim_device_create. */
void mlxshim_device_release(mlxshim_device *device);

/* Copies the device's name into out (NUL-terminated, truncated to cap); returns its full length. */
int32_t mlxshim_device_name(mlxshim_device *device, char *out, int32_t cap);

/* recommendedMaxWorkingSetSize in bytes. */
uint64_t mlxshim_device_recommended_working_set(mlxshim_device *device);

/* The device's id<MTLDevice>, borrowed (valid while the device lives), for callers that build
 * their own pipelines and command queues on it. */
void *mlxshim_device_native(mlxshim_device *device);

/* 1 where the OS supports residency sets (macOS 15 and later), else 0. */
int32_t mlxshim_residency_supported(mlxshim_device *device);

/* ---------------------------------------------------------------------------------- buffers */

/* A new buffer of `length` bytes in `storage` mode, +1. Its contents are undefined (Metal may
 * hand out recycled pages). NULL and err on failure. */
mlxshim_buffer *mlxshim_buffer_new(mlxshim_device *device, uint64_t length, int32_t storage,
                                   char *err, int32_t err_cap);

/* The CPU address of a shared buffer, or NULL for a private one. Valid while the buffer lives. */
void *mlxshim_buffer_contents(mlxshim_buffer *buffer);

/* The buffer's length in bytes. */
uint64_t mlxshim_buffer_length(mlxshim_buffer *buffer);

/* Gives back the caller's reference from mlxshim_buffer_new. */
void mlxshim_buffer_release(mlxshim_buffer *buffer);

/* Sets [offset, offset + length) to zero (a blit fill for private storage). Blocks until done.
 * Returns 0, or non-zero and err. */
int32_t mlxshim_buffer_fill_zero(mlxshim_device *device, mlxshim_buffer *buffer, uint64_t offset,
                                 uint64_t length, char *err, int32_t err_cap);

/* Copies between host memory and the buffer at `offset` (a blit through a staging buffer for
 * private storage). Block until done. Return 0, or non-zero and err. */
int32_t mlxshim_buffer_write(mlxshim_device *device, mlxshim_buffer *buffer, uint64_t offset,
                             const void *src, uint64_t length, char *err, int32_t err_cap);
int32_t mlxshim_buffer_read(mlxshim_device *device, mlxshim_buffer *buffer, uint64_t offset,
                            void *dst, uint64_t length, char *err, int32_t err_cap);

/* ---------------------------------------------------------------------------------- residency */

/* A new residency set (MTLResidencySetDescriptor with initialCapacity and label), +1. NULL and
 * err where unsupported (see mlxshim_residency_supported) or on failure. Membership is keyed by
 * the buffer object, never by its contents address. */
mlxshim_residency *mlxshim_residency_new(mlxshim_device *device, uint32_t initial_capacity,
                                         const char *label, char *err, int32_t err_cap);

/* Stages an addition. Non-zero and err if the buffer is already a member. The set retains the
 * buffer while it is a member, so a member can never be freed under it. */
int32_t mlxshim_residency_add(mlxshim_residency *set, mlxshim_buffer *buffer, char *err,
                              int32_t err_cap);

/* Stages a removal and drops the set's retain. Non-zero and err if the buffer is not a member. */
int32_t mlxshim_residency_remove(mlxshim_residency *set, mlxshim_buffer *buffer, char *err,
                                 int32_t err_cap);

/* Stages the removal of every member. */
void mlxshim_residency_remove_all(mlxshim_residency *set);

/* Applies staged changes. */
void mlxshim_residency_commit(mlxshim_residency *set);

/* allocatedSize of the committed members, in bytes. */
uint64_t mlxshim_residency_allocated_size(mlxshim_residency *set);

/* Number of members, staged additions included. */
int32_t mlxshim_residency_count(mlxshim_residency *set);

/* The set's id<MTLResidencySet>, borrowed, for callers that attach it to their own command queue
 * (-[MTLCommandQueue addResidencySet:]). The device's internal queue already has it. */
void *mlxshim_residency_native(mlxshim_residency *set);

/* Gives back the caller's reference from mlxshim_residency_new (and the set's member retains). */
void mlxshim_residency_release(mlxshim_residency *set);

/* ---------------------------------------------------------------------------------- sim only
 * Test hooks, implemented by the sim shim alone; the Metal library does not export them. */

/* Makes the device report residency sets as unsupported (as on macOS 14 and earlier). */
void mlxsim_set_residency_supported(mlxshim_device *device, int32_t supported);
/* The same, for devices created from now on in this process (the default is supported). */
void mlxsim_default_residency_supported(int32_t supported);
/* Fails the n-th buffer allocation from now (1 = the next one); 0 switches it off. */
void mlxsim_fail_nth_allocation(mlxshim_device *device, int64_t n);
/* Fails every allocation above `bytes`; UINT64_MAX switches it off. */
void mlxsim_fail_above(mlxshim_device *device, uint64_t bytes);
/* Buffers of this device allocated and not yet released. */
int64_t mlxsim_live_buffers(mlxshim_device *device);
/* Counters of a residency set: adds, removes, commits; and whether all changes are committed. */
int64_t mlxsim_residency_adds(mlxshim_residency *set);
int64_t mlxsim_residency_removes(mlxshim_residency *set);
int64_t mlxsim_residency_commits(mlxshim_residency *set);
int32_t mlxsim_residency_contains(mlxshim_residency *set, mlxshim_buffer *buffer);
int32_t mlxsim_residency_is_clean(mlxshim_residency *set);

#ifdef __cplusplus
}
#endif

#endif /* MLXSHIM_H */
