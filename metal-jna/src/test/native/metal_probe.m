/*
 * metal_probe.m: what the macOS workflow learns about the machine before it runs a test. It
 * prints the Metal devices (MTLCopyAllDevices and MTLCreateSystemDefaultDevice), their GPU
 * families (Metal3 above all: residency sets need it), whether a blit round trip through private
 * storage works, and whether a residency set can be created, filled, committed, emptied and torn
 * down. It picks the device the way the shim does: the first of MTLCopyAllDevices, else the
 * default.
 *
 * Exit status: 0 when the device is usable; 1, with the reason, when there is no Metal device or
 * a blit fails; 2 when --require-residency is given and no residency set can be used.
 * With --github-output FILE it appends device=..., metal3=yes|no and residency=yes|no to FILE
 * (the file GitHub Actions reads step outputs from).
 *
 * Build and run (macOS, Xcode 16 or later):
 *   xcrun clang -fobjc-arc -Wall -Werror -framework Metal -framework Foundation \
 *       -framework CoreGraphics metal-jna/src/test/native/metal_probe.m -o metal-probe
 *   ./metal-probe [--require-residency] [--github-output FILE]
 */
#import <Foundation/Foundation.h>
#import <Metal/Metal.h>
#include <stdio.h>
#include <string.h>

static const char *yes(BOOL b) { return b ? "yes" : "no"; }

static void describe(id<MTLDevice> d, NSUInteger index) {
  printf("  [%lu] %s\n", (unsigned long)index, d.name.UTF8String);
  printf("      registryID %llu, unified memory %s, low power %s, headless %s, removable %s\n",
         (unsigned long long)d.registryID, yes(d.hasUnifiedMemory), yes(d.isLowPower),
         yes(d.isHeadless), yes(d.isRemovable));
  printf("      recommendedMaxWorkingSetSize %llu MiB, maxBufferLength %lu MiB\n",
         (unsigned long long)(d.recommendedMaxWorkingSetSize >> 20),
         (unsigned long)(d.maxBufferLength >> 20));
  if (@available(macOS 14.0, *)) {
    printf("      architecture %s\n", d.architecture.name.UTF8String);
  }
  printf("      families: Metal3 %s, Apple7 %s, Apple8 %s, Apple9 %s, Mac2 %s\n",
         yes([d supportsFamily:MTLGPUFamilyMetal3]), yes([d supportsFamily:MTLGPUFamilyApple7]),
         yes([d supportsFamily:MTLGPUFamilyApple8]), yes([d supportsFamily:MTLGPUFamilyApple9]),
         yes([d supportsFamily:MTLGPUFamilyMac2]));
  if ([d.name rangeOfString:@"Paravirtual"].location != NSNotFound) {
    printf("      a paravirtual device (a virtual machine): Metal works, GPU performance and"
           " residency behaviour are not those of Apple silicon\n");
  }
}

/* Runs one blit command buffer; returns NULL or why it failed. */
static const char *run(id<MTLCommandQueue> queue, void (^encode)(id<MTLBlitCommandEncoder>)) {
  id<MTLCommandBuffer> cb = [queue commandBuffer];
  if (cb == nil) return "the queue gave no command buffer";
  id<MTLBlitCommandEncoder> blit = [cb blitCommandEncoder];
  if (blit == nil) return "the command buffer gave no blit encoder";
  encode(blit);
  [blit endEncoding];
  [cb commit];
  [cb waitUntilCompleted];
  if (cb.status != MTLCommandBufferStatusCompleted) {
    static char why[512];
    snprintf(why, sizeof why, "the command buffer failed: %s",
             cb.error ? cb.error.localizedDescription.UTF8String : "no reason given");
    return why;
  }
  return NULL;
}

/* Writes a pattern into a private buffer, zeroes a 4-byte aligned range, reads it back. */
static const char *blitRoundTrip(id<MTLDevice> device, id<MTLCommandQueue> queue) {
  enum { N = 64 };
  id<MTLBuffer> priv = [device newBufferWithLength:N options:MTLResourceStorageModePrivate];
  id<MTLBuffer> up = [device newBufferWithLength:N options:MTLResourceStorageModeShared];
  id<MTLBuffer> down = [device newBufferWithLength:N options:MTLResourceStorageModeShared];
  if (priv == nil || up == nil || down == nil) return "newBufferWithLength:options: returned nil";
  memset(up.contents, 0x5c, N);
  const char *why = run(queue, ^(id<MTLBlitCommandEncoder> b) {
    [b copyFromBuffer:up sourceOffset:0 toBuffer:priv destinationOffset:0 size:N];
    [b fillBuffer:priv range:NSMakeRange(16, 16) value:0];
    [b copyFromBuffer:priv sourceOffset:0 toBuffer:down destinationOffset:0 size:N];
  });
  if (why != NULL) return why;
  const unsigned char *got = down.contents;
  for (int i = 0; i < N; i++) {
    unsigned char want = i >= 16 && i < 32 ? 0 : 0x5c;
    if (got[i] != want) return "the private-storage blit round trip read back wrong bytes";
  }
  return NULL;
}

/* Creates a residency set, adds, commits, uses, removes, commits, tears down; NULL or why not. */
static const char *residencyRoundTrip(id<MTLDevice> device, id<MTLCommandQueue> queue) {
  if (@available(macOS 15.0, *)) {
    if (![device supportsFamily:MTLGPUFamilyMetal3]) return "the device is not MTLGPUFamilyMetal3";
    MTLResidencySetDescriptor *desc = [[MTLResidencySetDescriptor alloc] init];
    desc.label = @"metal-probe";
    NSError *error = nil;
    id<MTLResidencySet> set = [device newResidencySetWithDescriptor:desc error:&error];
    if (set == nil) {
      static char why[512];
      snprintf(why, sizeof why, "newResidencySetWithDescriptor failed: %s",
               error ? error.localizedDescription.UTF8String : "no reason given");
      return why;
    }
    id<MTLBuffer> b = [device newBufferWithLength:1 << 20 options:MTLResourceStorageModeShared];
    if (b == nil) return "newBufferWithLength:options: returned nil";
    [set requestResidency];
    [queue addResidencySet:set];
    [set addAllocation:b];
    [set commit];
    printf("residency set: %lu member(s), allocatedSize %llu bytes after commit\n",
           (unsigned long)set.allocationCount, (unsigned long long)set.allocatedSize);
    const char *why = run(queue, ^(id<MTLBlitCommandEncoder> e) {
      [e fillBuffer:b range:NSMakeRange(0, 4096) value:0];
    });
    [set removeAllocation:b];
    [set commit];
    [set endResidency];
    [queue removeResidencySet:set];
    return why;
  }
  return "residency sets need macOS 15 or later";
}

int main(int argc, char **argv) {
  @autoreleasepool {
    BOOL requireResidency = NO;
    const char *outputs = NULL;
    for (int i = 1; i < argc; i++) {
      if (strcmp(argv[i], "--require-residency") == 0) {
        requireResidency = YES;
      } else if (strcmp(argv[i], "--github-output") == 0 && i + 1 < argc) {
        outputs = argv[++i];
      } else {
        fprintf(stderr, "usage: %s [--require-residency] [--github-output FILE]\n", argv[0]);
        return 64;
      }
    }
    NSOperatingSystemVersion v = NSProcessInfo.processInfo.operatingSystemVersion;
    printf("macOS %ld.%ld.%ld\n", (long)v.majorVersion, (long)v.minorVersion,
           (long)v.patchVersion);

    NSArray<id<MTLDevice>> *all = MTLCopyAllDevices();
    printf("MTLCopyAllDevices: %lu device(s)\n", (unsigned long)all.count);
    for (NSUInteger i = 0; i < all.count; i++) describe(all[i], i);
    id<MTLDevice> fallback = MTLCreateSystemDefaultDevice();
    printf("MTLCreateSystemDefaultDevice: %s\n", fallback ? fallback.name.UTF8String : "nil");
    id<MTLDevice> device = all.count > 0 ? all[0] : fallback;
    if (device == nil) {
      fprintf(stderr, "metal-probe: FAIL: no Metal device: MTLCopyAllDevices is empty and"
                      " MTLCreateSystemDefaultDevice returned nil\n");
      return 1;
    }
    printf("the shim will use: %s\n", device.name.UTF8String);
    BOOL metal3 = [device supportsFamily:MTLGPUFamilyMetal3];

    id<MTLCommandQueue> queue = [device newCommandQueue];
    if (queue == nil) {
      fprintf(stderr, "metal-probe: FAIL: newCommandQueue returned nil\n");
      return 1;
    }
    const char *why = blitRoundTrip(device, queue);
    if (why != NULL) {
      fprintf(stderr, "metal-probe: FAIL: %s\n", why);
      return 1;
    }
    printf("private-storage blit round trip: ok\n");

    const char *noResidency = residencyRoundTrip(device, queue);
    if (noResidency == NULL) {
      printf("residency set: created, used and torn down: ok\n");
    } else {
      printf("residency set: unavailable: %s\n", noResidency);
    }
    if (outputs != NULL) {
      FILE *f = fopen(outputs, "a");
      if (f == NULL) {
        perror(outputs);
        return 1;
      }
      fprintf(f, "device=%s\nmetal3=%s\nresidency=%s\n", device.name.UTF8String, yes(metal3),
              yes(noResidency == NULL));
      fclose(f);
    }
    if (requireResidency && noResidency != NULL) {
      fprintf(stderr, "metal-probe: FAIL: a residency set is required here: %s\n", noResidency);
      return 2;
    }
    return 0;
  }
}
