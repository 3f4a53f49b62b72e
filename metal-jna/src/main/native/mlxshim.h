/*
 * mlxshim.h: the flat C ABI between mlx-arena's Java side (through JNA) and a Metal device.
 *
 * This header is the one contract every implementation follows:
 *   metal/mlxshim_metal.m      real Metal, built on macOS
 *   sim/mlxshim_sim.c          portable C with the same observable behaviour, for tests on every OS
 *   common/residency_book.c    residency membership, shared by both (see residency_book.h)
 *
 * Conventions
 *   - Objects are opaque pointers. A function that returns an object returns it with one
 *     reference owned by the caller (+1); the caller gives it back with the matching *_release.
 *     Functions that take an object borrow it: they neither retain nor release the caller's
 *     reference.
 *   - Functions that can fail take `char *err, int32_t err_cap`: on failure they write a
 *     NUL-terminated message of at most err_cap bytes (err may be NULL when err_cap is 0) and
 *     return NULL, a non-zero status or the sentinel their comment names. On success err is left
 *     untouched.
 *   - Lengths and offsets are 64-bit.
 *   - Thread safety: device and buffer functions may be called from any thread. A residency set
 *     must not be used by two threads at once (the Java side serialises its calls).
 *
 * Rules a caller must follow, each taken from Apple's Metal documentation. The sim refuses every
 * breach with an error, so that tests on any OS catch what only a Mac could otherwise show; the
 * Metal library refuses them too, except the use of a released object, which it cannot detect.
 *   1. A buffer is never released while it is a member of a residency set, staged or committed:
 *      remove it, commit, then release it (the order MLX uses).
 *   2. Only members are removed, and a buffer is added to a set at most once.
 *   3. On private storage, fills and copies start and end on multiples of 4 bytes: on macOS a
 *      blit fill's range and a buffer copy's offsets and size must be multiples of 4
 *      (MTLBlitCommandEncoder fillBuffer:range:value:, copyFromBuffer:...:size:). Private buffers
 *      are allocated rounded up to a multiple of 4 bytes, so every 4-byte word that holds one of
 *      the requested bytes can be read and written whole.
 *   4. A released device or set is never used again, and a device is released only after its
 *      residency sets.
 */
#ifndef MLXSHIM_H
#define MLXSHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLXSHIM_ABI_VERSION 2

/* Storage modes, as MTLResourceStorageMode. */
#define MLXSHIM_STORAGE_SHARED 0  /* CPU and GPU see the same memory; contents() is non-NULL */
#define MLXSHIM_STORAGE_PRIVATE 1 /* GPU only; contents() is NULL, copy through the functions below */

/* Fills and copies on private storage are aligned to this many bytes (rule 3). */
#define MLXSHIM_BLIT_ALIGNMENT 4

typedef struct mlxshim_device mlxshim_device;
typedef struct mlxshim_buffer mlxshim_buffer;
typedef struct mlxshim_residency mlxshim_residency;

/* The ABI version this library implements (MLXSHIM_ABI_VERSION). */
int32_t mlxshim_abi_version(void);

/* ---------------------------------------------------------------------------------- device */

/* A Metal device, +1: the first of MTLCopyAllDevices, else MTLCreateSystemDefaultDevice. NULL
 * and err if there is none. */
mlxshim_device *mlxshim_device_create(char *err, int32_t err_cap);

/* Gives back the caller's reference from mlxshim_device_create. Non-zero and err while one of
 * its residency sets is live (release those first). */
int32_t mlxshim_device_release(mlxshim_device *device, char *err, int32_t err_cap);

/* Copies the device's name into out (NUL-terminated, truncated to cap); returns its full length,
 * or -1 and err. */
int32_t mlxshim_device_name(mlxshim_device *device, char *out, int32_t cap, char *err,
                            int32_t err_cap);

/* recommendedMaxWorkingSetSize in bytes, or 0 and err. */
uint64_t mlxshim_device_recommended_working_set(mlxshim_device *device, char *err, int32_t err_cap);

/* The device's id<MTLDevice>, borrowed (valid while the device lives), for callers that build
 * their own pipelines and command queues on it; NULL and err on failure. */
void *mlxshim_device_native(mlxshim_device *device, char *err, int32_t err_cap);

/* 1 where residency sets can be used: macOS 15 or later and a device of MTLGPUFamilyMetal3
 * (MLX asks the same); 0 where not; -1 and err on failure. */
int32_t mlxshim_residency_supported(mlxshim_device *device, char *err, int32_t err_cap);

/* ---------------------------------------------------------------------------------- buffers */

/* A new buffer of `length` bytes in `storage` mode, +1. Its contents are undefined (Metal may
 * hand out recycled pages). A private buffer's allocation is rounded up to a multiple of
 * MLXSHIM_BLIT_ALIGNMENT. NULL and err on failure. */
mlxshim_buffer *mlxshim_buffer_new(mlxshim_device *device, uint64_t length, int32_t storage,
                                   char *err, int32_t err_cap);

/* The CPU address of a shared buffer, or NULL for a private one. Valid while the buffer lives. */
void *mlxshim_buffer_contents(mlxshim_buffer *buffer);

/* The allocation's length in bytes: the requested length, rounded up for private storage. */
uint64_t mlxshim_buffer_length(mlxshim_buffer *buffer);

/* Gives back the caller's reference from mlxshim_buffer_new. Non-zero and err, the buffer
 * untouched, while it is a member of a residency set, staged or committed (rule 1). */
int32_t mlxshim_buffer_release(mlxshim_buffer *buffer, char *err, int32_t err_cap);

/* Sets [offset, offset + length) to zero (a blit fill for private storage). Blocks until done.
 * Returns 0, or non-zero and err (a range outside the buffer, or unaligned on private storage). */
int32_t mlxshim_buffer_fill_zero(mlxshim_device *device, mlxshim_buffer *buffer, uint64_t offset,
                                 uint64_t length, char *err, int32_t err_cap);

/* Copies between host memory and the buffer at `offset` (a blit through a staging buffer for
 * private storage). Block until done. Return 0, or non-zero and err, as fill_zero. */
int32_t mlxshim_buffer_write(mlxshim_device *device, mlxshim_buffer *buffer, uint64_t offset,
                             const void *src, uint64_t length, char *err, int32_t err_cap);
int32_t mlxshim_buffer_read(mlxshim_device *device, mlxshim_buffer *buffer, uint64_t offset,
                            void *dst, uint64_t length, char *err, int32_t err_cap);

/* ---------------------------------------------------------------------------------- residency */

/* A new residency set (MTLResidencySetDescriptor with initialCapacity and label), +1, attached
 * to the device's internal queue. NULL and err where unsupported (see
 * mlxshim_residency_supported) or on failure. Membership is kept by the library itself, keyed by
 * the buffer object, never by its contents address. */
mlxshim_residency *mlxshim_residency_new(mlxshim_device *device, uint32_t initial_capacity,
                                         const char *label, char *err, int32_t err_cap);

/* Stages an addition. Non-zero and err if the buffer is already a member. The set holds its own
 * reference to each buffer from the addition until the commit that applies its removal. */
int32_t mlxshim_residency_add(mlxshim_residency *set, mlxshim_buffer *buffer, char *err,
                              int32_t err_cap);

/* Stages a removal. Non-zero and err if the buffer is not a member. The buffer stays a
 * committed member, and may not be released, until the next commit. */
int32_t mlxshim_residency_remove(mlxshim_residency *set, mlxshim_buffer *buffer, char *err,
                                 int32_t err_cap);

/* Applies staged changes, then drops the set's references to the buffers it removed. */
int32_t mlxshim_residency_commit(mlxshim_residency *set, char *err, int32_t err_cap);

/* allocatedSize as of the last commit, in bytes (Metal's figure may include the set's own
 * internal allocations; the sim reports the committed members' lengths), or UINT64_MAX and err. */
uint64_t mlxshim_residency_allocated_size(mlxshim_residency *set, char *err, int32_t err_cap);

/* Number of members, staged additions included and staged removals excluded; -1 and err. */
int32_t mlxshim_residency_count(mlxshim_residency *set, char *err, int32_t err_cap);

/* The set's id<MTLResidencySet>, borrowed, for callers that attach it to their own command queue
 * (-[MTLCommandQueue addResidencySet:]); NULL and err. The device's internal queue has it. */
void *mlxshim_residency_native(mlxshim_residency *set, char *err, int32_t err_cap);

/* Removes every member, commits, detaches the set from the device's queue, drops the set's
 * references to its buffers and gives back the caller's reference from mlxshim_residency_new.
 * Callers that attached the set to their own queues detach it first. Non-zero and err on
 * failure. */
int32_t mlxshim_residency_release(mlxshim_residency *set, char *err, int32_t err_cap);

/* ---------------------------------------------------------------------------------- sim only
 * Test hooks, implemented by the sim shim alone; the Metal library does not export them. */

/* Makes the device report residency sets as unsupported (as before macOS 15, or without Metal3). */
void mlxsim_set_residency_supported(mlxshim_device *device, int32_t supported);
/* The same, for devices created from now on in this process (the default is supported). */
void mlxsim_default_residency_supported(int32_t supported);
/* Makes residency set creation fail on devices created from now on (the default is 0). */
void mlxsim_default_residency_creation_fails(int32_t fails);
/* Fails the n-th buffer allocation from now (1 = the next one); 0 switches it off. */
void mlxsim_fail_nth_allocation(mlxshim_device *device, int64_t n);
/* Fails every allocation above `bytes`; UINT64_MAX switches it off. */
void mlxsim_fail_above(mlxshim_device *device, uint64_t bytes);
/* Buffers of this device whose caller has not released them yet. */
int64_t mlxsim_live_buffers(mlxshim_device *device);
/* Buffers of this device whose memory is not freed yet: the live ones, and those a residency set
 * still holds until the commit that applies their removal. */
int64_t mlxsim_allocated_buffers(mlxshim_device *device);
/* Counters of a residency set: adds, removes, commits; whether the buffer is a member (staged
 * additions included); whether every change is committed. -1 for a released set. */
int64_t mlxsim_residency_adds(mlxshim_residency *set);
int64_t mlxsim_residency_removes(mlxshim_residency *set);
int64_t mlxsim_residency_commits(mlxshim_residency *set);
int32_t mlxsim_residency_contains(mlxshim_residency *set, mlxshim_buffer *buffer);
int32_t mlxsim_residency_is_clean(mlxshim_residency *set);

#ifdef __cplusplus
}
#endif

#endif /* MLXSHIM_H */
