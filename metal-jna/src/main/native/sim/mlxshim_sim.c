/*
 * mlxshim_sim.c: the mlxshim ABI in portable C, so that the whole JNA path of the Metal backend
 * runs in tests on every OS. It behaves like Metal wherever the pool can tell, and it is strict:
 * every rule of mlxshim.h that real Metal would punish with a crash, a validation-layer abort or
 * silent corruption, the sim refuses with an error, so tests on Linux catch it.
 *   - fresh buffers hold garbage, as Metal's recycled pages can, so zero-fill must be explicit;
 *   - private buffers have no CPU address, are allocated rounded up to 4 bytes, and are reached
 *     through fill/read/write only, with 4-byte aligned offsets and lengths (rule 3);
 *   - residency membership is the shared book's (common/residency_book.c), as on Metal: a set
 *     holds its members, stages changes until commit, refuses a double add or the removal of a
 *     non-member (rule 2), and a member cannot be released (rule 1); allocatedSize changes on
 *     commit only, as Metal documents;
 *   - a released device or set is kept as a tombstone, never freed, so that any later use is
 *     refused with an error rather than being undefined (rule 4);
 *   - a device can report residency sets as unsupported (macOS < 15 or no Metal3), fail their
 *     creation, and fail allocations on demand (the n-th from now, or any above a size).
 */
#include "../mlxshim.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/residency_book.h"

#define GARBAGE 0xA5
#define LIVE 0x4C495645u     /* "LIVE" */
#define RELEASED 0x44454144u /* "DEAD" */

struct mlxshim_device {
  atomic_uint magic; /* LIVE, then RELEASED */
  pthread_mutex_t lock;
  int32_t residency_supported;
  int32_t residency_fails;
  int64_t allocations; /* made so far */
  int64_t fail_at;     /* allocation number to fail, 0 = none */
  uint64_t fail_above; /* fail allocations larger than this */
  int64_t live;        /* buffers whose caller has not released them */
  int64_t allocated;   /* buffers whose memory is not yet freed (by the caller or a set) */
  int32_t live_sets;   /* residency sets not yet released */
};

struct mlxshim_buffer {
  mlxshim_device *device;
  uint64_t length; /* the allocation's: rounded up for private storage */
  int32_t storage;
  atomic_int refs; /* the caller's reference plus one per residency set holding it */
  unsigned char *data;
};

struct mlxshim_residency {
  atomic_uint magic; /* LIVE, then RELEASED */
  mlxshim_device *device;
  mlxshim_book *book;
};

static atomic_int default_residency_supported = 1;
static atomic_int default_residency_fails = 0;

int32_t mlxshim_abi_version(void) { return MLXSHIM_ABI_VERSION; }

/* ---------------------------------------------------------------------------------- checks */

/* Whether `obj` (a device or a set, `kind`) is live; else err says which misuse `op` was. */
static int alive(const void *obj, const atomic_uint *magic, const char *kind, const char *op,
                 char *err, int32_t err_cap) {
  if (obj == NULL) {
    mlxshim_fail(err, err_cap, "sim: %s on a NULL %s", op, kind);
    return 0;
  }
  if (atomic_load(magic) != LIVE) {
    mlxshim_fail(err, err_cap, "sim: %s on %s %p, which was released", op, kind, obj);
    return 0;
  }
  return 1;
}

static int device_ok(mlxshim_device *d, const char *op, char *err, int32_t err_cap) {
  return alive(d, d == NULL ? NULL : &d->magic, "device", op, err, err_cap);
}

static int set_ok(mlxshim_residency *r, const char *op, char *err, int32_t err_cap) {
  return alive(r, r == NULL ? NULL : &r->magic, "residency set", op, err, err_cap);
}

/* The figures of a live set's book, or NULL (all hooks then answer -1). */
static const mlxshim_book_figures *figures(mlxshim_residency *r, mlxshim_book_figures *out) {
  if (!set_ok(r, "", NULL, 0)) return NULL;
  mlxshim_book_read(r->book, out);
  return out;
}

/* ---------------------------------------------------------------------------------- device */

mlxshim_device *mlxshim_device_create(char *err, int32_t err_cap) {
  mlxshim_device *d = calloc(1, sizeof *d);
  if (d == NULL) {
    mlxshim_fail(err, err_cap, "sim: out of host memory creating a device");
    return NULL;
  }
  pthread_mutex_init(&d->lock, NULL);
  atomic_init(&d->magic, LIVE);
  d->residency_supported = atomic_load(&default_residency_supported);
  d->residency_fails = atomic_load(&default_residency_fails);
  d->fail_above = UINT64_MAX;
  return d;
}

int32_t mlxshim_device_release(mlxshim_device *d, char *err, int32_t err_cap) {
  if (!device_ok(d, "mlxshim_device_release", err, err_cap)) return 1;
  pthread_mutex_lock(&d->lock);
  int32_t sets = d->live_sets;
  if (sets == 0) atomic_store(&d->magic, RELEASED); /* a tombstone: buffers still point at it */
  pthread_mutex_unlock(&d->lock);
  if (sets != 0) {
    mlxshim_fail(err, err_cap, "sim: device %p still has %d live residency set(s): release them first",
                 (void *)d, sets);
    return 1;
  }
  return 0;
}

int32_t mlxshim_device_name(mlxshim_device *d, char *out, int32_t cap, char *err,
                            int32_t err_cap) {
  if (!device_ok(d, "mlxshim_device_name", err, err_cap)) return -1;
  const char *name = "mlxshim-sim";
  if (out != NULL && cap > 0) snprintf(out, (size_t)cap, "%s", name);
  return (int32_t)strlen(name);
}

uint64_t mlxshim_device_recommended_working_set(mlxshim_device *d, char *err, int32_t err_cap) {
  if (!device_ok(d, "mlxshim_device_recommended_working_set", err, err_cap)) return 0;
  return 8ULL << 30;
}

void *mlxshim_device_native(mlxshim_device *d, char *err, int32_t err_cap) {
  if (!device_ok(d, "mlxshim_device_native", err, err_cap)) return NULL;
  return d;
}

int32_t mlxshim_residency_supported(mlxshim_device *d, char *err, int32_t err_cap) {
  if (!device_ok(d, "mlxshim_residency_supported", err, err_cap)) return -1;
  return d->residency_supported;
}

/* ---------------------------------------------------------------------------------- buffers */

static void buffer_unref(mlxshim_buffer *b) {
  if (atomic_fetch_sub(&b->refs, 1) > 1) return;
  mlxshim_device *d = b->device;
  pthread_mutex_lock(&d->lock);
  d->allocated--;
  pthread_mutex_unlock(&d->lock);
  free(b->data);
  free(b);
}

static void hold(void *b) { atomic_fetch_add(&((mlxshim_buffer *)b)->refs, 1); }

static void unhold(void *b) { buffer_unref(b); }

mlxshim_buffer *mlxshim_buffer_new(mlxshim_device *d, uint64_t length, int32_t storage,
                                   char *err, int32_t err_cap) {
  if (!device_ok(d, "mlxshim_buffer_new", err, err_cap)) return NULL;
  if (length == 0) {
    mlxshim_fail(err, err_cap, "sim: buffer length must be at least 1");
    return NULL;
  }
  if (storage != MLXSHIM_STORAGE_SHARED && storage != MLXSHIM_STORAGE_PRIVATE) {
    mlxshim_fail(err, err_cap, "sim: unknown storage mode %d", storage);
    return NULL;
  }
  pthread_mutex_lock(&d->lock);
  int64_t n = d->allocations + 1;
  int injected = (n == d->fail_at) || length > d->fail_above;
  if (n == d->fail_at) d->fail_at = 0;
  if (!injected) d->allocations = n;
  pthread_mutex_unlock(&d->lock);
  if (injected) {
    mlxshim_fail(err, err_cap, "sim: injected allocation failure for %llu bytes",
                 (unsigned long long)length);
    return NULL;
  }
  uint64_t size = length;
  if (storage == MLXSHIM_STORAGE_PRIVATE) {
    uint64_t a = MLXSHIM_BLIT_ALIGNMENT;
    size = length > UINT64_MAX - (a - 1) ? 0 : (length + a - 1) / a * a;
  }
  mlxshim_buffer *b = calloc(1, sizeof *b);
  unsigned char *data = size != 0 && size <= SIZE_MAX ? malloc((size_t)size) : NULL;
  if (b == NULL || data == NULL) {
    free(b);
    free(data);
    mlxshim_fail(err, err_cap, "sim: out of host memory for %llu bytes", (unsigned long long)length);
    return NULL;
  }
  memset(data, GARBAGE, (size_t)size);
  b->device = d;
  b->length = size;
  b->storage = storage;
  atomic_init(&b->refs, 1);
  b->data = data;
  pthread_mutex_lock(&d->lock);
  d->live++;
  d->allocated++;
  pthread_mutex_unlock(&d->lock);
  return b;
}

void *mlxshim_buffer_contents(mlxshim_buffer *b) {
  return b->storage == MLXSHIM_STORAGE_SHARED ? b->data : NULL;
}

uint64_t mlxshim_buffer_length(mlxshim_buffer *b) { return b->length; }

int32_t mlxshim_buffer_release(mlxshim_buffer *b, char *err, int32_t err_cap) {
  if (b == NULL) return 0;
  if (mlxshim_book_check_release(b, err, err_cap)) return 1;
  mlxshim_device *d = b->device;
  pthread_mutex_lock(&d->lock);
  d->live--;
  pthread_mutex_unlock(&d->lock);
  buffer_unref(b);
  return 0;
}

/* The checks every fill and copy makes: a live device, a range inside the buffer and, on private
 * storage, Apple's blit alignment (rule 3). */
static int check_blit(mlxshim_device *d, mlxshim_buffer *b, uint64_t offset, uint64_t length,
                      const char *op, char *err, int32_t err_cap) {
  if (!device_ok(d, op, err, err_cap)) return 1;
  if (offset > b->length || length > b->length - offset) {
    mlxshim_fail(err, err_cap, "sim: %s range [%llu, +%llu) outside %llu bytes", op,
                 (unsigned long long)offset, (unsigned long long)length,
                 (unsigned long long)b->length);
    return 1;
  }
  if (b->storage == MLXSHIM_STORAGE_PRIVATE && (offset | length) % MLXSHIM_BLIT_ALIGNMENT != 0) {
    mlxshim_fail(err, err_cap,
                 "sim: %s range [%llu, +%llu) of a private buffer is not %d-byte aligned: Metal"
                 " on macOS requires blit fill ranges and copy offsets and sizes in multiples of %d",
                 op, (unsigned long long)offset, (unsigned long long)length,
                 MLXSHIM_BLIT_ALIGNMENT, MLXSHIM_BLIT_ALIGNMENT);
    return 1;
  }
  return 0;
}

int32_t mlxshim_buffer_fill_zero(mlxshim_device *d, mlxshim_buffer *b, uint64_t offset,
                                 uint64_t length, char *err, int32_t err_cap) {
  if (check_blit(d, b, offset, length, "fill", err, err_cap)) return 1;
  memset(b->data + offset, 0, (size_t)length);
  return 0;
}

int32_t mlxshim_buffer_write(mlxshim_device *d, mlxshim_buffer *b, uint64_t offset,
                             const void *src, uint64_t length, char *err, int32_t err_cap) {
  if (check_blit(d, b, offset, length, "write", err, err_cap)) return 1;
  if (length != 0) memcpy(b->data + offset, src, (size_t)length);
  return 0;
}

int32_t mlxshim_buffer_read(mlxshim_device *d, mlxshim_buffer *b, uint64_t offset, void *dst,
                            uint64_t length, char *err, int32_t err_cap) {
  if (check_blit(d, b, offset, length, "read", err, err_cap)) return 1;
  if (length != 0) memcpy(dst, b->data + offset, (size_t)length);
  return 0;
}

/* ---------------------------------------------------------------------------------- residency */

mlxshim_residency *mlxshim_residency_new(mlxshim_device *d, uint32_t initial_capacity,
                                         const char *label, char *err, int32_t err_cap) {
  (void)label;
  if (!device_ok(d, "mlxshim_residency_new", err, err_cap)) return NULL;
  if (!d->residency_supported) {
    mlxshim_fail(err, err_cap, "sim: residency sets need macOS 15 or later and a Metal3 GPU");
    return NULL;
  }
  if (d->residency_fails) {
    mlxshim_fail(err, err_cap, "sim: injected failure creating a residency set");
    return NULL;
  }
  mlxshim_residency *r = calloc(1, sizeof *r);
  mlxshim_book *book = mlxshim_book_new(initial_capacity, hold, unhold);
  if (r == NULL || book == NULL) {
    free(r);
    mlxshim_book_free(book);
    mlxshim_fail(err, err_cap, "sim: out of host memory creating a residency set");
    return NULL;
  }
  atomic_init(&r->magic, LIVE);
  r->device = d;
  r->book = book;
  pthread_mutex_lock(&d->lock);
  d->live_sets++;
  pthread_mutex_unlock(&d->lock);
  return r;
}

int32_t mlxshim_residency_add(mlxshim_residency *r, mlxshim_buffer *b, char *err,
                              int32_t err_cap) {
  if (!set_ok(r, "mlxshim_residency_add", err, err_cap)) return 1;
  return mlxshim_book_add(r->book, b, b->length, err, err_cap);
}

int32_t mlxshim_residency_remove(mlxshim_residency *r, mlxshim_buffer *b, char *err,
                                 int32_t err_cap) {
  if (!set_ok(r, "mlxshim_residency_remove", err, err_cap)) return 1;
  return mlxshim_book_remove(r->book, b, err, err_cap);
}

int32_t mlxshim_residency_commit(mlxshim_residency *r, char *err, int32_t err_cap) {
  if (!set_ok(r, "mlxshim_residency_commit", err, err_cap)) return 1;
  mlxshim_book_commit(r->book);
  return 0;
}

uint64_t mlxshim_residency_allocated_size(mlxshim_residency *r, char *err, int32_t err_cap) {
  mlxshim_book_figures f;
  if (!set_ok(r, "mlxshim_residency_allocated_size", err, err_cap)) return UINT64_MAX;
  return figures(r, &f)->committed_bytes;
}

int32_t mlxshim_residency_count(mlxshim_residency *r, char *err, int32_t err_cap) {
  mlxshim_book_figures f;
  if (!set_ok(r, "mlxshim_residency_count", err, err_cap)) return -1;
  return figures(r, &f)->count;
}

void *mlxshim_residency_native(mlxshim_residency *r, char *err, int32_t err_cap) {
  if (!set_ok(r, "mlxshim_residency_native", err, err_cap)) return NULL;
  return r;
}

int32_t mlxshim_residency_release(mlxshim_residency *r, char *err, int32_t err_cap) {
  if (!set_ok(r, "mlxshim_residency_release", err, err_cap)) return 1;
  atomic_store(&r->magic, RELEASED); /* a tombstone, so that a later use is refused */
  mlxshim_book_free(r->book);
  r->book = NULL;
  mlxshim_device *d = r->device;
  pthread_mutex_lock(&d->lock);
  d->live_sets--;
  pthread_mutex_unlock(&d->lock);
  return 0;
}

/* ---------------------------------------------------------------------------------- test hooks */

void mlxsim_set_residency_supported(mlxshim_device *d, int32_t supported) {
  d->residency_supported = supported;
}

void mlxsim_default_residency_supported(int32_t supported) {
  atomic_store(&default_residency_supported, supported);
}

void mlxsim_default_residency_creation_fails(int32_t fails) {
  atomic_store(&default_residency_fails, fails);
}

void mlxsim_fail_nth_allocation(mlxshim_device *d, int64_t n) {
  pthread_mutex_lock(&d->lock);
  d->fail_at = n > 0 ? d->allocations + n : 0;
  pthread_mutex_unlock(&d->lock);
}

void mlxsim_fail_above(mlxshim_device *d, uint64_t bytes) {
  pthread_mutex_lock(&d->lock);
  d->fail_above = bytes;
  pthread_mutex_unlock(&d->lock);
}

int64_t mlxsim_live_buffers(mlxshim_device *d) {
  pthread_mutex_lock(&d->lock);
  int64_t live = d->live;
  pthread_mutex_unlock(&d->lock);
  return live;
}

int64_t mlxsim_allocated_buffers(mlxshim_device *d) {
  pthread_mutex_lock(&d->lock);
  int64_t allocated = d->allocated;
  pthread_mutex_unlock(&d->lock);
  return allocated;
}

int64_t mlxsim_residency_adds(mlxshim_residency *r) {
  mlxshim_book_figures f;
  return figures(r, &f) ? f.adds : -1;
}

int64_t mlxsim_residency_removes(mlxshim_residency *r) {
  mlxshim_book_figures f;
  return figures(r, &f) ? f.removes : -1;
}

int64_t mlxsim_residency_commits(mlxshim_residency *r) {
  mlxshim_book_figures f;
  return figures(r, &f) ? f.commits : -1;
}

int32_t mlxsim_residency_contains(mlxshim_residency *r, mlxshim_buffer *b) {
  return set_ok(r, "", NULL, 0) ? mlxshim_book_contains(r->book, b) : -1;
}

int32_t mlxsim_residency_is_clean(mlxshim_residency *r) {
  mlxshim_book_figures f;
  return figures(r, &f) ? f.clean : -1;
}
