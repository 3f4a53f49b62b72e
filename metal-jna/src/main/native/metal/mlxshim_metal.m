/*
 * mlxshim_metal.m: the mlxshim ABI over real Metal (see ../mlxshim.h for the contract).
 *
 * Built without ARC (-fno-objc-arc): every retain and release is explicit, because objects cross
 * the JNA boundary as plain pointers and each must be owned by exactly one side at a time.
 *   - mlxshim_buffer * is the id<MTLBuffer> itself, +1 from -newBufferWithLength:options:.
 *   - a residency set retains each member it holds (on top of whatever Metal does), so a member
 *     is never deallocated while the set references it.
 *   - Objective-C calls that return autoreleased objects (command buffers, encoders, strings)
 *     run inside @autoreleasepool, since JNA threads have no pool of their own.
 */
#import <Foundation/Foundation.h>
#import <Metal/Metal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../mlxshim.h"

#if __has_feature(objc_arc)
#error "mlxshim_metal.m manages references by hand: compile with -fno-objc-arc"
#endif

struct mlxshim_device {
  id<MTLDevice> device;       /* +1 */
  id<MTLCommandQueue> queue;  /* +1, used for fills and staged copies */
};

struct mlxshim_residency {
  mlxshim_device *owner;
  id set; /* id<MTLResidencySet>, +1; typed as id so this file builds with older SDK targets */
};

static void fail(char *err, int32_t cap, const char *fmt, ...) {
  if (err == NULL || cap <= 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, (size_t)cap, fmt, ap);
  va_end(ap);
}

static void fail_ns(char *err, int32_t cap, const char *what, NSError *error) {
  const char *why = error != nil ? [[error localizedDescription] UTF8String] : "unknown error";
  fail(err, cap, "%s: %s", what, why != NULL ? why : "unknown error");
}

int32_t mlxshim_abi_version(void) { return MLXSHIM_ABI_VERSION; }

/* ---------------------------------------------------------------------------------- device */

mlxshim_device *mlxshim_device_create(char *err, int32_t err_cap) {
  @autoreleasepool {
    id<MTLDevice> device = MTLCreateSystemDefaultDevice(); /* NS_RETURNS_RETAINED: +1 */
    if (device == nil) {
      fail(err, err_cap, "MTLCreateSystemDefaultDevice returned nil: no Metal device");
      return NULL;
    }
    id<MTLCommandQueue> queue = [device newCommandQueue]; /* +1 */
    if (queue == nil) {
      [device release];
      fail(err, err_cap, "newCommandQueue returned nil");
      return NULL;
    }
    mlxshim_device *d = calloc(1, sizeof *d);
    if (d == NULL) {
      [queue release];
      [device release];
      fail(err, err_cap, "out of host memory");
      return NULL;
    }
    d->device = device;
    d->queue = queue;
    return d;
  }
}

void mlxshim_device_release(mlxshim_device *d) {
  if (d == NULL) return;
  [d->queue release];
  [d->device release];
  free(d);
}

int32_t mlxshim_device_name(mlxshim_device *d, char *out, int32_t cap) {
  @autoreleasepool {
    const char *name = [[d->device name] UTF8String];
    if (name == NULL) name = "Metal device";
    if (out != NULL && cap > 0) snprintf(out, (size_t)cap, "%s", name);
    return (int32_t)strlen(name);
  }
}

uint64_t mlxshim_device_recommended_working_set(mlxshim_device *d) {
  return (uint64_t)[d->device recommendedMaxWorkingSetSize];
}

void *mlxshim_device_native(mlxshim_device *d) { return (void *)d->device; }

int32_t mlxshim_residency_supported(mlxshim_device *d) {
  (void)d;
  if (@available(macOS 15.0, *)) {
    return 1;
  }
  return 0;
}

/* ---------------------------------------------------------------------------------- buffers */

static id<MTLBuffer> buf(mlxshim_buffer *b) { return (id<MTLBuffer>)b; }

mlxshim_buffer *mlxshim_buffer_new(mlxshim_device *d, uint64_t length, int32_t storage, char *err,
                                   int32_t err_cap) {
  if (length == 0) {
    fail(err, err_cap, "buffer length must be at least 1");
    return NULL;
  }
  MTLResourceOptions options;
  if (storage == MLXSHIM_STORAGE_SHARED) {
    options = MTLResourceStorageModeShared;
  } else if (storage == MLXSHIM_STORAGE_PRIVATE) {
    options = MTLResourceStorageModePrivate;
  } else {
    fail(err, err_cap, "unknown storage mode %d", storage);
    return NULL;
  }
  if (length > (uint64_t)[d->device maxBufferLength]) {
    fail(err, err_cap, "%llu bytes exceed the device's maxBufferLength of %llu",
         (unsigned long long)length, (unsigned long long)[d->device maxBufferLength]);
    return NULL;
  }
  id<MTLBuffer> b = [d->device newBufferWithLength:(NSUInteger)length options:options]; /* +1 */
  if (b == nil) {
    fail(err, err_cap, "newBufferWithLength:%llu failed (out of device memory?)",
         (unsigned long long)length);
    return NULL;
  }
  return (mlxshim_buffer *)b;
}

void *mlxshim_buffer_contents(mlxshim_buffer *b) {
  if ([buf(b) storageMode] == MTLStorageModePrivate) return NULL;
  return [buf(b) contents];
}

uint64_t mlxshim_buffer_length(mlxshim_buffer *b) { return (uint64_t)[buf(b) length]; }

void mlxshim_buffer_release(mlxshim_buffer *b) {
  if (b != NULL) [buf(b) release];
}

static int32_t check_range(mlxshim_buffer *b, uint64_t offset, uint64_t length, char *err,
                           int32_t err_cap) {
  uint64_t size = (uint64_t)[buf(b) length];
  if (offset > size || length > size - offset) {
    fail(err, err_cap, "range [%llu, +%llu) outside %llu bytes", (unsigned long long)offset,
         (unsigned long long)length, (unsigned long long)size);
    return 1;
  }
  return 0;
}

/* Commits a command buffer, waits for it, and reports its error if it failed. */
static int32_t run(id<MTLCommandBuffer> cb, const char *what, char *err, int32_t err_cap) {
  [cb commit];
  [cb waitUntilCompleted];
  if ([cb status] == MTLCommandBufferStatusError) {
    fail_ns(err, err_cap, what, [cb error]);
    return 1;
  }
  return 0;
}

int32_t mlxshim_buffer_fill_zero(mlxshim_device *d, mlxshim_buffer *b, uint64_t offset,
                                 uint64_t length, char *err, int32_t err_cap) {
  if (check_range(b, offset, length, err, err_cap)) return 1;
  if (length == 0) return 0;
  if ([buf(b) storageMode] != MTLStorageModePrivate) {
    memset((char *)[buf(b) contents] + offset, 0, (size_t)length);
    return 0;
  }
  @autoreleasepool {
    id<MTLCommandBuffer> cb = [d->queue commandBuffer];
    id<MTLBlitCommandEncoder> blit = [cb blitCommandEncoder];
    [blit fillBuffer:buf(b) range:NSMakeRange((NSUInteger)offset, (NSUInteger)length) value:0];
    [blit endEncoding];
    return run(cb, "zero-fill blit failed", err, err_cap);
  }
}

int32_t mlxshim_buffer_write(mlxshim_device *d, mlxshim_buffer *b, uint64_t offset,
                             const void *src, uint64_t length, char *err, int32_t err_cap) {
  if (check_range(b, offset, length, err, err_cap)) return 1;
  if (length == 0) return 0;
  if ([buf(b) storageMode] != MTLStorageModePrivate) {
    memcpy((char *)[buf(b) contents] + offset, src, (size_t)length);
    return 0;
  }
  @autoreleasepool {
    id<MTLBuffer> staging = [d->device newBufferWithBytes:src
                                                   length:(NSUInteger)length
                                                  options:MTLResourceStorageModeShared]; /* +1 */
    if (staging == nil) {
      fail(err, err_cap, "no staging buffer of %llu bytes", (unsigned long long)length);
      return 1;
    }
    id<MTLCommandBuffer> cb = [d->queue commandBuffer];
    id<MTLBlitCommandEncoder> blit = [cb blitCommandEncoder];
    [blit copyFromBuffer:staging
             sourceOffset:0
                 toBuffer:buf(b)
        destinationOffset:(NSUInteger)offset
                     size:(NSUInteger)length];
    [blit endEncoding];
    int32_t rc = run(cb, "upload blit failed", err, err_cap);
    [staging release];
    return rc;
  }
}

int32_t mlxshim_buffer_read(mlxshim_device *d, mlxshim_buffer *b, uint64_t offset, void *dst,
                            uint64_t length, char *err, int32_t err_cap) {
  if (check_range(b, offset, length, err, err_cap)) return 1;
  if (length == 0) return 0;
  if ([buf(b) storageMode] != MTLStorageModePrivate) {
    memcpy(dst, (const char *)[buf(b) contents] + offset, (size_t)length);
    return 0;
  }
  @autoreleasepool {
    id<MTLBuffer> staging = [d->device newBufferWithLength:(NSUInteger)length
                                                   options:MTLResourceStorageModeShared]; /* +1 */
    if (staging == nil) {
      fail(err, err_cap, "no staging buffer of %llu bytes", (unsigned long long)length);
      return 1;
    }
    id<MTLCommandBuffer> cb = [d->queue commandBuffer];
    id<MTLBlitCommandEncoder> blit = [cb blitCommandEncoder];
    [blit copyFromBuffer:buf(b)
             sourceOffset:(NSUInteger)offset
                 toBuffer:staging
        destinationOffset:0
                     size:(NSUInteger)length];
    [blit endEncoding];
    int32_t rc = run(cb, "download blit failed", err, err_cap);
    if (rc == 0) memcpy(dst, [staging contents], (size_t)length);
    [staging release];
    return rc;
  }
}

/* ---------------------------------------------------------------------------------- residency */

mlxshim_residency *mlxshim_residency_new(mlxshim_device *d, uint32_t initial_capacity,
                                         const char *label, char *err, int32_t err_cap) {
  if (@available(macOS 15.0, *)) {
    @autoreleasepool {
      MTLResidencySetDescriptor *desc = [[MTLResidencySetDescriptor alloc] init]; /* +1 */
      [desc setInitialCapacity:(NSUInteger)initial_capacity];
      if (label != NULL) [desc setLabel:[NSString stringWithUTF8String:label]];
      NSError *error = nil;
      id<MTLResidencySet> set = [d->device newResidencySetWithDescriptor:desc error:&error]; /* +1 */
      [desc release];
      if (set == nil) {
        fail_ns(err, err_cap, "newResidencySetWithDescriptor failed", error);
        return NULL;
      }
      mlxshim_residency *r = calloc(1, sizeof *r);
      if (r == NULL) {
        [set release];
        fail(err, err_cap, "out of host memory");
        return NULL;
      }
      r->owner = d;
      r->set = set;
      /* Work on the device's own queue sees the set; callers attach it to theirs too. */
      [d->queue addResidencySet:set];
      return r;
    }
  }
  fail(err, err_cap, "residency sets need macOS 15 or later");
  return NULL;
}

int32_t mlxshim_residency_add(mlxshim_residency *r, mlxshim_buffer *b, char *err,
                              int32_t err_cap) {
  if (@available(macOS 15.0, *)) {
    id<MTLResidencySet> set = (id<MTLResidencySet>)r->set;
    if ([set containsAllocation:buf(b)]) {
      fail(err, err_cap, "residency set already holds buffer %p", (void *)b);
      return 1;
    }
    [buf(b) retain]; /* the set's own reference, dropped on removal */
    [set addAllocation:buf(b)];
    return 0;
  }
  fail(err, err_cap, "residency sets need macOS 15 or later");
  return 1;
}

int32_t mlxshim_residency_remove(mlxshim_residency *r, mlxshim_buffer *b, char *err,
                                 int32_t err_cap) {
  if (@available(macOS 15.0, *)) {
    id<MTLResidencySet> set = (id<MTLResidencySet>)r->set;
    if (![set containsAllocation:buf(b)]) {
      fail(err, err_cap, "residency set does not hold buffer %p", (void *)b);
      return 1;
    }
    [set removeAllocation:buf(b)];
    [buf(b) release];
    return 0;
  }
  fail(err, err_cap, "residency sets need macOS 15 or later");
  return 1;
}

void mlxshim_residency_remove_all(mlxshim_residency *r) {
  if (@available(macOS 15.0, *)) {
    @autoreleasepool {
      id<MTLResidencySet> set = (id<MTLResidencySet>)r->set;
      NSArray<id<MTLAllocation>> *members = [[set allAllocations] retain];
      [set removeAllAllocations];
      for (id<MTLAllocation> a in members) {
        [a release]; /* the references taken in mlxshim_residency_add */
      }
      [members release];
    }
  }
}

void mlxshim_residency_commit(mlxshim_residency *r) {
  if (@available(macOS 15.0, *)) {
    [(id<MTLResidencySet>)r->set commit];
  }
}

uint64_t mlxshim_residency_allocated_size(mlxshim_residency *r) {
  if (@available(macOS 15.0, *)) {
    return (uint64_t)[(id<MTLResidencySet>)r->set allocatedSize];
  }
  return 0;
}

int32_t mlxshim_residency_count(mlxshim_residency *r) {
  if (@available(macOS 15.0, *)) {
    return (int32_t)[(id<MTLResidencySet>)r->set allocationCount];
  }
  return 0;
}

void *mlxshim_residency_native(mlxshim_residency *r) { return (void *)r->set; }

void mlxshim_residency_release(mlxshim_residency *r) {
  if (r == NULL) return;
  if (@available(macOS 15.0, *)) {
    mlxshim_residency_remove_all(r);
    [(id<MTLResidencySet>)r->set commit];
    [r->owner->queue removeResidencySet:(id<MTLResidencySet>)r->set];
  }
  [r->set release];
  free(r);
}
