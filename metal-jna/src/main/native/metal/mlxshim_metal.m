/*
 * mlxshim_metal.m: the mlxshim ABI over real Metal (see ../mlxshim.h for the contract and the
 * rules a caller follows).
 *
 * Built without ARC (-fno-objc-arc): every retain and release is explicit, because objects cross
 * the JNA boundary as plain pointers and each must be owned by exactly one side at a time.
 *   - mlxshim_buffer * is the id<MTLBuffer> itself, +1 from -newBufferWithLength:options:.
 *   - residency membership is the shared book's (../common/residency_book.c): a set retains each
 *     buffer from its addition until the commit that applies its removal, so a buffer is never
 *     deallocated while a set references it, staged or committed (remove, commit, then release:
 *     the order MLX uses), and a buffer that is still a member cannot be released by the caller.
 *   - every call that can release or autorelease an object (buffer releases, residency calls,
 *     command buffers and encoders, strings) runs inside @autoreleasepool: JNA threads have no
 *     pool of their own, and MLX wraps each buffer release the same way.
 *
 * Needs the macOS 15 SDK (Xcode 16 or later) to compile, since it names MTLResidencySet; it is
 * deployed from macOS 13, and every use of a macOS 15 API is guarded by @available, so on
 * macOS 13 and 14 the library loads and runs without residency sets.
 */
#import <Foundation/Foundation.h>
#import <Metal/Metal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "../common/residency_book.h"
#include "../mlxshim.h"

#if __has_feature(objc_arc)
#error "mlxshim_metal.m manages references by hand: compile with -fno-objc-arc"
#endif

#if !defined(__MAC_15_0)
#error "mlxshim_metal.m needs the macOS 15 SDK (Xcode 16 or later): it names MTLResidencySet"
#endif

struct mlxshim_device {
  id<MTLDevice> device;      /* +1 */
  id<MTLCommandQueue> queue; /* +1, used for fills and staged copies */
  atomic_int live_sets;      /* residency sets made on this device and not yet released */
};

struct mlxshim_residency {
  mlxshim_device *owner; /* outlives the set: a device with live sets refuses to be released */
  /* id<MTLResidencySet>, +1. Typed as id because the deployment target is macOS 13, where the
   * protocol does not exist: a field of that type would be an unguarded use of it. */
  id set;
  mlxshim_book *book;
};

static void fail_ns(char *err, int32_t cap, const char *what, NSError *error) {
  const char *why = error != nil ? [[error localizedDescription] UTF8String] : NULL;
  mlxshim_fail(err, cap, "%s: %s", what, why != NULL ? why : "no reason given");
}

int32_t mlxshim_abi_version(void) { return MLXSHIM_ABI_VERSION; }

/* ---------------------------------------------------------------------------------- device */

mlxshim_device *mlxshim_device_create(char *err, int32_t err_cap) {
  @autoreleasepool {
    /* MTLCopyAllDevices first, as MLX does: MTLCreateSystemDefaultDevice can return nil in a
     * process that does not link CoreGraphics (Apple's note on it; this library links it). In
     * headless, sandboxed or virtualized sessions the array can be empty: fall back. */
    id<MTLDevice> device = nil;
    NSArray<id<MTLDevice>> *all = MTLCopyAllDevices(); /* NS_RETURNS_RETAINED: +1 */
    if (all != nil && [all count] > 0) device = [[all objectAtIndex:0] retain];
    [all release];
    if (device == nil) device = MTLCreateSystemDefaultDevice(); /* NS_RETURNS_RETAINED: +1 */
    if (device == nil) {
      mlxshim_fail(err, err_cap,
                   "no Metal device: MTLCopyAllDevices is empty and MTLCreateSystemDefaultDevice"
                   " returned nil (a headless, sandboxed or virtualized session?)");
      return NULL;
    }
    id<MTLCommandQueue> queue = [device newCommandQueue]; /* +1 */
    if (queue == nil) {
      [device release];
      mlxshim_fail(err, err_cap, "newCommandQueue returned nil");
      return NULL;
    }
    mlxshim_device *d = calloc(1, sizeof *d);
    if (d == NULL) {
      [queue release];
      [device release];
      mlxshim_fail(err, err_cap, "out of host memory");
      return NULL;
    }
    d->device = device;
    d->queue = queue;
    atomic_init(&d->live_sets, 0);
    return d;
  }
}

int32_t mlxshim_device_release(mlxshim_device *d, char *err, int32_t err_cap) {
  if (d == NULL) return 0;
  int sets = atomic_load(&d->live_sets);
  if (sets != 0) {
    mlxshim_fail(err, err_cap, "device still has %d live residency set(s): release them first",
                 sets);
    return 1;
  }
  @autoreleasepool {
    [d->queue release];
    [d->device release];
  }
  free(d);
  return 0;
}

int32_t mlxshim_device_name(mlxshim_device *d, char *out, int32_t cap, char *err,
                            int32_t err_cap) {
  (void)err;
  (void)err_cap;
  @autoreleasepool {
    const char *name = [[d->device name] UTF8String];
    if (name == NULL) name = "Metal device";
    if (out != NULL && cap > 0) snprintf(out, (size_t)cap, "%s", name);
    return (int32_t)strlen(name);
  }
}

uint64_t mlxshim_device_recommended_working_set(mlxshim_device *d, char *err, int32_t err_cap) {
  uint64_t bytes = [d->device recommendedMaxWorkingSetSize];
  if (bytes == 0) mlxshim_fail(err, err_cap, "recommendedMaxWorkingSetSize is 0");
  return bytes;
}

void *mlxshim_device_native(mlxshim_device *d, char *err, int32_t err_cap) {
  (void)err;
  (void)err_cap;
  return (void *)d->device;
}

/* Residency sets need macOS 15 (MTLResidencySet is API_AVAILABLE(macos(15.0))) and, as MLX
 * requires, a GPU of MTLGPUFamilyMetal3. */
static int residency_usable(mlxshim_device *d) {
  if (@available(macOS 15.0, *)) {
    return [d->device supportsFamily:MTLGPUFamilyMetal3] ? 1 : 0;
  }
  return 0;
}

int32_t mlxshim_residency_supported(mlxshim_device *d, char *err, int32_t err_cap) {
  (void)err;
  (void)err_cap;
  return residency_usable(d);
}

/* ---------------------------------------------------------------------------------- buffers */

static id<MTLBuffer> buf(mlxshim_buffer *b) { return (id<MTLBuffer>)b; }

static int is_private(mlxshim_buffer *b) { return [buf(b) storageMode] == MTLStorageModePrivate; }

mlxshim_buffer *mlxshim_buffer_new(mlxshim_device *d, uint64_t length, int32_t storage, char *err,
                                   int32_t err_cap) {
  if (length == 0) {
    mlxshim_fail(err, err_cap, "buffer length must be at least 1");
    return NULL;
  }
  MTLResourceOptions options;
  uint64_t size = length;
  if (storage == MLXSHIM_STORAGE_SHARED) {
    options = MTLResourceStorageModeShared;
  } else if (storage == MLXSHIM_STORAGE_PRIVATE) {
    options = MTLResourceStorageModePrivate;
    /* Rounded up so that every 4-byte word holding a requested byte can be blitted whole: on
     * macOS, blit fill ranges and copy offsets and sizes must be multiples of 4 (rule 3). */
    uint64_t a = MLXSHIM_BLIT_ALIGNMENT;
    size = length > UINT64_MAX - (a - 1) ? UINT64_MAX : (length + a - 1) / a * a;
  } else {
    mlxshim_fail(err, err_cap, "unknown storage mode %d", storage);
    return NULL;
  }
  uint64_t max = (uint64_t)[d->device maxBufferLength];
  if (size > max) {
    mlxshim_fail(err, err_cap, "%llu bytes exceed the device's maxBufferLength of %llu",
                 (unsigned long long)length, (unsigned long long)max);
    return NULL;
  }
  @autoreleasepool {
    id<MTLBuffer> b = [d->device newBufferWithLength:(NSUInteger)size options:options]; /* +1 */
    if (b == nil) {
      mlxshim_fail(err, err_cap, "newBufferWithLength:%llu failed (out of device memory?)",
                   (unsigned long long)size);
      return NULL;
    }
    return (mlxshim_buffer *)b;
  }
}

void *mlxshim_buffer_contents(mlxshim_buffer *b) {
  if (is_private(b)) return NULL;
  return [buf(b) contents];
}

uint64_t mlxshim_buffer_length(mlxshim_buffer *b) { return (uint64_t)[buf(b) length]; }

int32_t mlxshim_buffer_release(mlxshim_buffer *b, char *err, int32_t err_cap) {
  if (b == NULL) return 0;
  if (mlxshim_book_check_release(b, err, err_cap)) return 1; /* rule 1 */
  @autoreleasepool {
    [buf(b) release];
  }
  return 0;
}

/* The checks every fill and copy makes: a range inside the buffer and, on private storage, the
 * alignment Apple requires on macOS for -fillBuffer:range:value: (the range's location and
 * length) and -copyFromBuffer:sourceOffset:toBuffer:destinationOffset:size: (both offsets and
 * the size): multiples of 4. The caller splits unaligned ends off (MetalDevice does). */
static int32_t check_blit(mlxshim_buffer *b, uint64_t offset, uint64_t length, const char *op,
                          char *err, int32_t err_cap) {
  uint64_t size = (uint64_t)[buf(b) length];
  if (offset > size || length > size - offset) {
    mlxshim_fail(err, err_cap, "%s range [%llu, +%llu) outside %llu bytes", op,
                 (unsigned long long)offset, (unsigned long long)length, (unsigned long long)size);
    return 1;
  }
  if (is_private(b) && (offset | length) % MLXSHIM_BLIT_ALIGNMENT != 0) {
    mlxshim_fail(err, err_cap,
                 "%s range [%llu, +%llu) of a private buffer is not %d-byte aligned: Metal on"
                 " macOS requires blit fill ranges and copy offsets and sizes in multiples of %d",
                 op, (unsigned long long)offset, (unsigned long long)length,
                 MLXSHIM_BLIT_ALIGNMENT, MLXSHIM_BLIT_ALIGNMENT);
    return 1;
  }
  return 0;
}

/* A blit encoder on a fresh command buffer of the device's queue, or nil and err: both
 * -commandBuffer and -blitCommandEncoder may return nil. Call inside @autoreleasepool. */
static id<MTLBlitCommandEncoder> begin_blit(mlxshim_device *d, id<MTLCommandBuffer> *cb_out,
                                            const char *what, char *err, int32_t err_cap) {
  id<MTLCommandBuffer> cb = [d->queue commandBuffer];
  if (cb == nil) {
    mlxshim_fail(err, err_cap, "%s: the queue gave no command buffer", what);
    return nil;
  }
  id<MTLBlitCommandEncoder> blit = [cb blitCommandEncoder];
  if (blit == nil) {
    mlxshim_fail(err, err_cap, "%s: the command buffer gave no blit encoder", what);
    return nil;
  }
  *cb_out = cb;
  return blit;
}

/* Ends the encoder, commits, waits, and reports anything but a completed command buffer. */
static int32_t finish_blit(id<MTLCommandBuffer> cb, id<MTLBlitCommandEncoder> blit,
                           const char *what, char *err, int32_t err_cap) {
  [blit endEncoding];
  [cb commit];
  [cb waitUntilCompleted];
  if ([cb status] != MTLCommandBufferStatusCompleted) {
    fail_ns(err, err_cap, what, [cb error]);
    return 1;
  }
  return 0;
}

int32_t mlxshim_buffer_fill_zero(mlxshim_device *d, mlxshim_buffer *b, uint64_t offset,
                                 uint64_t length, char *err, int32_t err_cap) {
  if (check_blit(b, offset, length, "fill", err, err_cap)) return 1;
  if (length == 0) return 0;
  if (!is_private(b)) {
    memset((char *)[buf(b) contents] + offset, 0, (size_t)length);
    return 0;
  }
  @autoreleasepool {
    id<MTLCommandBuffer> cb = nil;
    id<MTLBlitCommandEncoder> blit = begin_blit(d, &cb, "zero-fill blit", err, err_cap);
    if (blit == nil) return 1;
    [blit fillBuffer:buf(b) range:NSMakeRange((NSUInteger)offset, (NSUInteger)length) value:0];
    return finish_blit(cb, blit, "zero-fill blit failed", err, err_cap);
  }
}

int32_t mlxshim_buffer_write(mlxshim_device *d, mlxshim_buffer *b, uint64_t offset,
                             const void *src, uint64_t length, char *err, int32_t err_cap) {
  if (check_blit(b, offset, length, "write", err, err_cap)) return 1;
  if (length == 0) return 0;
  if (!is_private(b)) {
    memcpy((char *)[buf(b) contents] + offset, src, (size_t)length);
    return 0;
  }
  @autoreleasepool {
    id<MTLBuffer> staging = [d->device newBufferWithBytes:src
                                                   length:(NSUInteger)length
                                                  options:MTLResourceStorageModeShared]; /* +1 */
    if (staging == nil) {
      mlxshim_fail(err, err_cap, "no staging buffer of %llu bytes", (unsigned long long)length);
      return 1;
    }
    id<MTLCommandBuffer> cb = nil;
    id<MTLBlitCommandEncoder> blit = begin_blit(d, &cb, "upload blit", err, err_cap);
    int32_t rc = 1;
    if (blit != nil) {
      [blit copyFromBuffer:staging
               sourceOffset:0
                   toBuffer:buf(b)
          destinationOffset:(NSUInteger)offset
                       size:(NSUInteger)length];
      rc = finish_blit(cb, blit, "upload blit failed", err, err_cap);
    }
    [staging release];
    return rc;
  }
}

int32_t mlxshim_buffer_read(mlxshim_device *d, mlxshim_buffer *b, uint64_t offset, void *dst,
                            uint64_t length, char *err, int32_t err_cap) {
  if (check_blit(b, offset, length, "read", err, err_cap)) return 1;
  if (length == 0) return 0;
  if (!is_private(b)) {
    memcpy(dst, (const char *)[buf(b) contents] + offset, (size_t)length);
    return 0;
  }
  @autoreleasepool {
    id<MTLBuffer> staging = [d->device newBufferWithLength:(NSUInteger)length
                                                   options:MTLResourceStorageModeShared]; /* +1 */
    if (staging == nil) {
      mlxshim_fail(err, err_cap, "no staging buffer of %llu bytes", (unsigned long long)length);
      return 1;
    }
    id<MTLCommandBuffer> cb = nil;
    id<MTLBlitCommandEncoder> blit = begin_blit(d, &cb, "download blit", err, err_cap);
    int32_t rc = 1;
    if (blit != nil) {
      [blit copyFromBuffer:buf(b)
               sourceOffset:(NSUInteger)offset
                   toBuffer:staging
          destinationOffset:0
                       size:(NSUInteger)length];
      rc = finish_blit(cb, blit, "download blit failed", err, err_cap);
    }
    if (rc == 0) memcpy(dst, [staging contents], (size_t)length);
    [staging release];
    return rc;
  }
}

/* ---------------------------------------------------------------------------------- residency */

/* The book's hold and unhold: the set's own reference to a member. */
static void hold(void *b) { [(id)b retain]; }

static void unhold(void *b) {
  @autoreleasepool {
    [(id)b release];
  }
}

static const char *const NO_RESIDENCY =
    "residency sets need macOS 15 or later and a GPU of MTLGPUFamilyMetal3";

mlxshim_residency *mlxshim_residency_new(mlxshim_device *d, uint32_t initial_capacity,
                                         const char *label, char *err, int32_t err_cap) {
  if (!residency_usable(d)) {
    mlxshim_fail(err, err_cap, "%s", NO_RESIDENCY);
    return NULL;
  }
  if (@available(macOS 15.0, *)) {
    @autoreleasepool {
      mlxshim_residency *r = calloc(1, sizeof *r);
      mlxshim_book *book = mlxshim_book_new(initial_capacity, hold, unhold);
      MTLResidencySetDescriptor *desc = [[MTLResidencySetDescriptor alloc] init]; /* +1 */
      if (r == NULL || book == NULL || desc == nil) {
        [desc release];
        mlxshim_book_free(book);
        free(r);
        mlxshim_fail(err, err_cap, "out of host memory creating a residency set");
        return NULL;
      }
      [desc setInitialCapacity:(NSUInteger)initial_capacity];
      if (label != NULL) {
        NSString *name = [NSString stringWithUTF8String:label]; /* autoreleased */
        if (name != nil) [desc setLabel:name];
      }
      NSError *error = nil;
      id<MTLResidencySet> set = [d->device newResidencySetWithDescriptor:desc error:&error]; /* +1 */
      [desc release];
      if (set == nil) {
        fail_ns(err, err_cap, "newResidencySetWithDescriptor failed", error);
        mlxshim_book_free(book);
        free(r);
        return NULL;
      }
      /* A standing request, so members added later are resident without asking again (as MLX
       * does); the device's own queue sees the set, and callers attach it to theirs. */
      [set requestResidency];
      [d->queue addResidencySet:set];
      r->owner = d;
      r->set = set;
      r->book = book;
      atomic_fetch_add(&d->live_sets, 1);
      return r;
    }
  }
  mlxshim_fail(err, err_cap, "%s", NO_RESIDENCY);
  return NULL;
}

int32_t mlxshim_residency_add(mlxshim_residency *r, mlxshim_buffer *b, char *err,
                              int32_t err_cap) {
  if (@available(macOS 15.0, *)) {
    @autoreleasepool {
      /* The book refuses a second addition (rule 2) and retains the buffer for the set. */
      if (mlxshim_book_add(r->book, b, (uint64_t)[buf(b) length], err, err_cap)) return 1;
      [(id<MTLResidencySet>)r->set addAllocation:buf(b)];
      return 0;
    }
  }
  mlxshim_fail(err, err_cap, "%s", NO_RESIDENCY);
  return 1;
}

int32_t mlxshim_residency_remove(mlxshim_residency *r, mlxshim_buffer *b, char *err,
                                 int32_t err_cap) {
  if (@available(macOS 15.0, *)) {
    @autoreleasepool {
      /* -removeAllocation: only stages the removal until -commit, so the book keeps the set's
       * retain until then (mlxshim_residency_commit). */
      if (mlxshim_book_remove(r->book, b, err, err_cap)) return 1;
      [(id<MTLResidencySet>)r->set removeAllocation:buf(b)];
      return 0;
    }
  }
  mlxshim_fail(err, err_cap, "%s", NO_RESIDENCY);
  return 1;
}

int32_t mlxshim_residency_commit(mlxshim_residency *r, char *err, int32_t err_cap) {
  if (@available(macOS 15.0, *)) {
    @autoreleasepool {
      /* Apply the staged changes first, then let go of the removed buffers: remove, commit,
       * then release. */
      [(id<MTLResidencySet>)r->set commit];
      mlxshim_book_commit(r->book);
      return 0;
    }
  }
  mlxshim_fail(err, err_cap, "%s", NO_RESIDENCY);
  return 1;
}

uint64_t mlxshim_residency_allocated_size(mlxshim_residency *r, char *err, int32_t err_cap) {
  if (@available(macOS 15.0, *)) {
    /* Updated by -commit only, and may include the set's internal allocations (Apple's
     * documentation and MTLResidencySet.h): not the sum of the members' lengths. */
    return [(id<MTLResidencySet>)r->set allocatedSize];
  }
  mlxshim_fail(err, err_cap, "%s", NO_RESIDENCY);
  return UINT64_MAX;
}

int32_t mlxshim_residency_count(mlxshim_residency *r, char *err, int32_t err_cap) {
  (void)err;
  (void)err_cap;
  /* The book's count, not -allocationCount, which Apple documents both as including and as
   * excluding uncommitted changes. */
  mlxshim_book_figures f;
  mlxshim_book_read(r->book, &f);
  return f.count;
}

void *mlxshim_residency_native(mlxshim_residency *r, char *err, int32_t err_cap) {
  (void)err;
  (void)err_cap;
  return (void *)r->set;
}

int32_t mlxshim_residency_release(mlxshim_residency *r, char *err, int32_t err_cap) {
  if (r == NULL) return 0;
  if (@available(macOS 15.0, *)) {
    @autoreleasepool {
      id<MTLResidencySet> set = (id<MTLResidencySet>)r->set;
      /* Empty the set and commit before tearing it down, and only then drop the retains the
       * book holds: no member is deallocated while the set still references it. */
      [set removeAllAllocations];
      [set commit];
      [set endResidency];
      [r->owner->queue removeResidencySet:set];
      mlxshim_book_free(r->book);
      [set release];
    }
    atomic_fetch_sub(&r->owner->live_sets, 1);
    free(r);
    return 0;
  }
  mlxshim_fail(err, err_cap, "%s", NO_RESIDENCY);
  return 1;
}
