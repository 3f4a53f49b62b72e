/*
 * mlxshim_sim.c: the mlxshim ABI in portable C, so that the whole JNA path of the Metal backend
 * runs in tests on every OS. It behaves like Metal wherever the pool can tell:
 *   - fresh buffers hold garbage, as Metal's recycled pages can, so zero-fill must be explicit;
 *   - private buffers have no CPU address; they are reached through fill/read/write only;
 *   - a residency set retains its members, rejects adding a member twice or removing a
 *     non-member (a real set would misbehave), stages changes until commit, and counts adds,
 *     removes and commits;
 *   - a device can report residency sets as unsupported (macOS < 15);
 *   - allocations can be made to fail (the n-th from now, or any above a size).
 */
#include "../mlxshim.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GARBAGE 0xA5

struct mlxshim_device {
  pthread_mutex_t lock;
  int32_t residency_supported;
  int64_t allocations;     /* made so far */
  int64_t fail_at;         /* allocation number to fail, 0 = none */
  uint64_t fail_above;     /* fail allocations larger than this */
  int64_t live;            /* buffers not yet freed */
};

struct mlxshim_buffer {
  mlxshim_device *device;
  uint64_t length;
  int32_t storage;
  int32_t refs; /* the caller's reference plus one per residency set holding it */
  unsigned char *data;
};

struct mlxshim_residency {
  mlxshim_device *device;
  mlxshim_buffer **members;
  int32_t count, cap;
  mlxshim_buffer **committed;
  int32_t committed_count, committed_cap;
  int32_t dirty;
  int64_t adds, removes, commits;
};

static volatile int32_t default_residency_supported = 1;

static void fail(char *err, int32_t cap, const char *fmt, ...) {
  if (err == NULL || cap <= 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, (size_t)cap, fmt, ap);
  va_end(ap);
}

int32_t mlxshim_abi_version(void) { return MLXSHIM_ABI_VERSION; }

/* ---------------------------------------------------------------------------------- device */

mlxshim_device *mlxshim_device_create(char *err, int32_t err_cap) {
  mlxshim_device *d = calloc(1, sizeof *d);
  if (d == NULL) {
    fail(err, err_cap, "sim: out of host memory creating a device");
    return NULL;
  }
  pthread_mutex_init(&d->lock, NULL);
  d->residency_supported = default_residency_supported;
  d->fail_above = UINT64_MAX;
  return d;
}

void mlxshim_device_release(mlxshim_device *device) {
  if (device == NULL) return;
  pthread_mutex_destroy(&device->lock);
  free(device);
}

int32_t mlxshim_device_name(mlxshim_device *device, char *out, int32_t cap) {
  (void)device;
  const char *name = "mlxshim-sim";
  if (out != NULL && cap > 0) snprintf(out, (size_t)cap, "%s", name);
  return (int32_t)strlen(name);
}

uint64_t mlxshim_device_recommended_working_set(mlxshim_device *device) {
  (void)device;
  return 8ULL << 30;
}

void *mlxshim_device_native(mlxshim_device *device) { return device; }

int32_t mlxshim_residency_supported(mlxshim_device *device) { return device->residency_supported; }

/* ---------------------------------------------------------------------------------- buffers */

static void buffer_unref(mlxshim_buffer *b) {
  if (--b->refs > 0) return;
  mlxshim_device *d = b->device;
  pthread_mutex_lock(&d->lock);
  d->live--;
  pthread_mutex_unlock(&d->lock);
  free(b->data);
  free(b);
}

mlxshim_buffer *mlxshim_buffer_new(mlxshim_device *device, uint64_t length, int32_t storage,
                                   char *err, int32_t err_cap) {
  if (length == 0) {
    fail(err, err_cap, "sim: buffer length must be at least 1");
    return NULL;
  }
  if (storage != MLXSHIM_STORAGE_SHARED && storage != MLXSHIM_STORAGE_PRIVATE) {
    fail(err, err_cap, "sim: unknown storage mode %d", storage);
    return NULL;
  }
  pthread_mutex_lock(&device->lock);
  int64_t n = device->allocations + 1;
  int injected = (n == device->fail_at) || length > device->fail_above;
  if (n == device->fail_at) device->fail_at = 0;
  if (!injected) device->allocations = n;
  pthread_mutex_unlock(&device->lock);
  if (injected) {
    fail(err, err_cap, "sim: injected allocation failure for %llu bytes", (unsigned long long)length);
    return NULL;
  }
  mlxshim_buffer *b = calloc(1, sizeof *b);
  unsigned char *data = length <= SIZE_MAX ? malloc((size_t)length) : NULL;
  if (b == NULL || data == NULL) {
    free(b);
    free(data);
    fail(err, err_cap, "sim: out of host memory for %llu bytes", (unsigned long long)length);
    return NULL;
  }
  memset(data, GARBAGE, (size_t)length);
  b->device = device;
  b->length = length;
  b->storage = storage;
  b->refs = 1;
  b->data = data;
  pthread_mutex_lock(&device->lock);
  device->live++;
  pthread_mutex_unlock(&device->lock);
  return b;
}

void *mlxshim_buffer_contents(mlxshim_buffer *buffer) {
  return buffer->storage == MLXSHIM_STORAGE_SHARED ? buffer->data : NULL;
}

uint64_t mlxshim_buffer_length(mlxshim_buffer *buffer) { return buffer->length; }

void mlxshim_buffer_release(mlxshim_buffer *buffer) {
  if (buffer != NULL) buffer_unref(buffer);
}

static int32_t check_range(mlxshim_buffer *b, uint64_t offset, uint64_t length, char *err,
                           int32_t err_cap) {
  if (offset > b->length || length > b->length - offset) {
    fail(err, err_cap, "sim: range [%llu, +%llu) outside %llu bytes", (unsigned long long)offset,
         (unsigned long long)length, (unsigned long long)b->length);
    return 1;
  }
  return 0;
}

int32_t mlxshim_buffer_fill_zero(mlxshim_device *device, mlxshim_buffer *buffer, uint64_t offset,
                                 uint64_t length, char *err, int32_t err_cap) {
  (void)device;
  if (check_range(buffer, offset, length, err, err_cap)) return 1;
  memset(buffer->data + offset, 0, (size_t)length);
  return 0;
}

int32_t mlxshim_buffer_write(mlxshim_device *device, mlxshim_buffer *buffer, uint64_t offset,
                             const void *src, uint64_t length, char *err, int32_t err_cap) {
  (void)device;
  if (check_range(buffer, offset, length, err, err_cap)) return 1;
  memcpy(buffer->data + offset, src, (size_t)length);
  return 0;
}

int32_t mlxshim_buffer_read(mlxshim_device *device, mlxshim_buffer *buffer, uint64_t offset,
                            void *dst, uint64_t length, char *err, int32_t err_cap) {
  (void)device;
  if (check_range(buffer, offset, length, err, err_cap)) return 1;
  memcpy(dst, buffer->data + offset, (size_t)length);
  return 0;
}

/* ---------------------------------------------------------------------------------- residency */

static int32_t find(mlxshim_buffer **list, int32_t count, mlxshim_buffer *b) {
  for (int32_t i = 0; i < count; i++)
    if (list[i] == b) return i;
  return -1;
}

static int grow(mlxshim_buffer ***list, int32_t *cap, int32_t need) {
  if (need <= *cap) return 1;
  int32_t n = *cap < 16 ? 16 : *cap;
  while (n < need) n *= 2;
  mlxshim_buffer **grown = realloc(*list, (size_t)n * sizeof **list);
  if (grown == NULL) return 0;
  *list = grown;
  *cap = n;
  return 1;
}

mlxshim_residency *mlxshim_residency_new(mlxshim_device *device, uint32_t initial_capacity,
                                         const char *label, char *err, int32_t err_cap) {
  (void)label;
  if (!device->residency_supported) {
    fail(err, err_cap, "sim: residency sets need macOS 15 or later");
    return NULL;
  }
  mlxshim_residency *r = calloc(1, sizeof *r);
  if (r == NULL || !grow(&r->members, &r->cap, (int32_t)initial_capacity)) {
    free(r);
    fail(err, err_cap, "sim: out of host memory creating a residency set");
    return NULL;
  }
  r->device = device;
  return r;
}

int32_t mlxshim_residency_add(mlxshim_residency *set, mlxshim_buffer *buffer, char *err,
                              int32_t err_cap) {
  if (find(set->members, set->count, buffer) >= 0) {
    fail(err, err_cap, "sim: residency set already holds buffer %p", (void *)buffer);
    return 1;
  }
  if (!grow(&set->members, &set->cap, set->count + 1)) {
    fail(err, err_cap, "sim: out of host memory growing a residency set");
    return 1;
  }
  set->members[set->count++] = buffer;
  buffer->refs++;
  set->adds++;
  set->dirty = 1;
  return 0;
}

int32_t mlxshim_residency_remove(mlxshim_residency *set, mlxshim_buffer *buffer, char *err,
                                 int32_t err_cap) {
  int32_t i = find(set->members, set->count, buffer);
  if (i < 0) {
    fail(err, err_cap, "sim: residency set does not hold buffer %p", (void *)buffer);
    return 1;
  }
  set->members[i] = set->members[--set->count];
  set->removes++;
  set->dirty = 1;
  buffer_unref(buffer);
  return 0;
}

void mlxshim_residency_remove_all(mlxshim_residency *set) {
  while (set->count > 0) {
    mlxshim_buffer *b = set->members[--set->count];
    set->removes++;
    buffer_unref(b);
  }
  set->dirty = 1;
}

void mlxshim_residency_commit(mlxshim_residency *set) {
  set->commits++;
  if (grow(&set->committed, &set->committed_cap, set->count)) {
    memcpy(set->committed, set->members, (size_t)set->count * sizeof *set->members);
    set->committed_count = set->count;
    set->dirty = 0;
  }
}

uint64_t mlxshim_residency_allocated_size(mlxshim_residency *set) {
  uint64_t total = 0;
  for (int32_t i = 0; i < set->committed_count; i++) {
    /* a committed member may have been removed since; count only current members */
    if (find(set->members, set->count, set->committed[i]) >= 0) total += set->committed[i]->length;
  }
  return total;
}

int32_t mlxshim_residency_count(mlxshim_residency *set) { return set->count; }

void *mlxshim_residency_native(mlxshim_residency *set) { return set; }

void mlxshim_residency_release(mlxshim_residency *set) {
  if (set == NULL) return;
  mlxshim_residency_remove_all(set);
  free(set->members);
  free(set->committed);
  free(set);
}

/* ---------------------------------------------------------------------------------- test hooks */

void mlxsim_set_residency_supported(mlxshim_device *device, int32_t supported) {
  device->residency_supported = supported;
}

void mlxsim_default_residency_supported(int32_t supported) {
  default_residency_supported = supported;
}

void mlxsim_fail_nth_allocation(mlxshim_device *device, int64_t n) {
  pthread_mutex_lock(&device->lock);
  device->fail_at = n > 0 ? device->allocations + n : 0;
  pthread_mutex_unlock(&device->lock);
}

void mlxsim_fail_above(mlxshim_device *device, uint64_t bytes) {
  pthread_mutex_lock(&device->lock);
  device->fail_above = bytes;
  pthread_mutex_unlock(&device->lock);
}

int64_t mlxsim_live_buffers(mlxshim_device *device) {
  pthread_mutex_lock(&device->lock);
  int64_t live = device->live;
  pthread_mutex_unlock(&device->lock);
  return live;
}

int64_t mlxsim_residency_adds(mlxshim_residency *set) { return set->adds; }
int64_t mlxsim_residency_removes(mlxshim_residency *set) { return set->removes; }
int64_t mlxsim_residency_commits(mlxshim_residency *set) { return set->commits; }

int32_t mlxsim_residency_contains(mlxshim_residency *set, mlxshim_buffer *buffer) {
  return find(set->members, set->count, buffer) >= 0;
}

int32_t mlxsim_residency_is_clean(mlxshim_residency *set) {
  if (set->dirty) return 0;
  if (set->committed_count != set->count) return 0;
  for (int32_t i = 0; i < set->count; i++)
    if (find(set->committed, set->committed_count, set->members[i]) < 0) return 0;
  return 1;
}
