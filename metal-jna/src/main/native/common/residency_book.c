/*
 * residency_book.c: see residency_book.h.
 *
 * Each table maps a buffer pointer to a slot, with open addressing, linear probing and
 * backward-shift deletion (no tombstones), at most 70 % full. Every change first reserves the
 * room it needs, so that once a change starts it cannot fail half-way.
 */
#include "residency_book.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  MEMBER = 1u,    /* a member now (staged addition included, staged removal excluded) */
  COMMITTED = 2u, /* a member at the last commit */
  DIRTY = 4u,     /* changed since the last commit: listed in the book's dirty list */
};

typedef struct {
  void *key;       /* NULL: empty slot */
  uint64_t length; /* book tables: the buffer's length */
  uint32_t flags;  /* book tables: MEMBER | COMMITTED | DIRTY */
  int32_t sets;    /* the global table: sets counting the buffer as a member, staged or committed */
} slot;

typedef struct {
  slot *slots;
  uint32_t cap; /* a power of two, or 0 */
  uint32_t used;
} table;

struct mlxshim_book {
  table entries; /* every buffer the set holds */
  void **dirty;  /* buffers changed since the last commit, each once */
  uint32_t dirty_count, dirty_cap;
  int32_t count;
  uint64_t member_bytes, committed_bytes;
  int64_t adds, removes, commits;
  mlxshim_book_ref hold, unhold;
};

static pthread_mutex_t book_lock = PTHREAD_MUTEX_INITIALIZER;
static table everywhere; /* buffer -> number of sets counting it as a member */

void mlxshim_fail(char *err, int32_t err_cap, const char *fmt, ...) {
  if (err == NULL || err_cap <= 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, (size_t)err_cap, fmt, ap);
  va_end(ap);
}

/* ---------------------------------------------------------------------------------- tables */

static uint32_t home(const void *key, uint32_t mask) {
  uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;
  return (uint32_t)(h >> 32) & mask;
}

static slot *find(table *t, const void *key) {
  if (t->cap == 0) return NULL;
  uint32_t mask = t->cap - 1;
  for (uint32_t i = home(key, mask);; i = (i + 1) & mask) {
    if (t->slots[i].key == key) return &t->slots[i];
    if (t->slots[i].key == NULL) return NULL;
  }
}

/* Makes room for `more` insertions without growing; 0 when out of host memory. */
static int reserve(table *t, uint32_t more) {
  uint64_t need = (uint64_t)t->used + more;
  if (need * 10 <= (uint64_t)t->cap * 7) return 1;
  uint64_t cap = t->cap < 16 ? 16 : t->cap;
  while (need * 10 > cap * 7) cap *= 2;
  if (cap > UINT32_MAX / 2) return 0;
  slot *slots = calloc((size_t)cap, sizeof *slots);
  if (slots == NULL) return 0;
  uint32_t mask = (uint32_t)cap - 1;
  for (uint32_t j = 0; j < t->cap; j++) {
    if (t->slots[j].key == NULL) continue;
    uint32_t i = home(t->slots[j].key, mask);
    while (slots[i].key != NULL) i = (i + 1) & mask;
    slots[i] = t->slots[j];
  }
  free(t->slots);
  t->slots = slots;
  t->cap = (uint32_t)cap;
  return 1;
}

/* Inserts `key` (absent, room reserved) and returns its zeroed slot. */
static slot *insert(table *t, void *key) {
  uint32_t mask = t->cap - 1;
  uint32_t i = home(key, mask);
  while (t->slots[i].key != NULL) i = (i + 1) & mask;
  t->slots[i] = (slot){.key = key};
  t->used++;
  return &t->slots[i];
}

/* Deletes a slot, shifting back the entries of its probe run so that lookups still find them. */
static void erase(table *t, slot *s) {
  uint32_t mask = t->cap - 1;
  uint32_t hole = (uint32_t)(s - t->slots);
  for (uint32_t j = (hole + 1) & mask; t->slots[j].key != NULL; j = (j + 1) & mask) {
    uint32_t h = home(t->slots[j].key, mask);
    /* The entry at j may fill the hole unless its home lies cyclically in (hole, j]. */
    int stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
    if (!stays) {
      t->slots[hole] = t->slots[j];
      hole = j;
    }
  }
  t->slots[hole] = (slot){0};
  t->used--;
}

static void counted_up(void *buffer) {
  slot *g = find(&everywhere, buffer);
  if (g == NULL) g = insert(&everywhere, buffer);
  g->sets++;
}

static void counted_down(void *buffer) {
  slot *g = find(&everywhere, buffer);
  if (g != NULL && --g->sets == 0) erase(&everywhere, g);
}

static void mark_dirty(mlxshim_book *b, slot *s) {
  if (s->flags & DIRTY) return;
  s->flags |= DIRTY;
  b->dirty[b->dirty_count++] = s->key;
}

static int reserve_dirty(mlxshim_book *b) {
  if (b->dirty_count < b->dirty_cap) return 1;
  uint32_t cap = b->dirty_cap < 16 ? 16 : b->dirty_cap * 2;
  void **grown = realloc(b->dirty, (size_t)cap * sizeof *grown);
  if (grown == NULL) return 0;
  b->dirty = grown;
  b->dirty_cap = cap;
  return 1;
}

/* ---------------------------------------------------------------------------------- books */

mlxshim_book *mlxshim_book_new(uint32_t initial_capacity, mlxshim_book_ref hold,
                               mlxshim_book_ref unhold) {
  mlxshim_book *b = calloc(1, sizeof *b);
  if (b == NULL) return NULL;
  b->hold = hold;
  b->unhold = unhold;
  uint32_t want = initial_capacity > (1u << 20) ? (1u << 20) : initial_capacity;
  if (!reserve(&b->entries, want)) {
    free(b);
    return NULL;
  }
  return b;
}

int32_t mlxshim_book_add(mlxshim_book *b, void *buffer, uint64_t length, char *err,
                         int32_t err_cap) {
  pthread_mutex_lock(&book_lock);
  slot *s = find(&b->entries, buffer);
  if (s != NULL && (s->flags & MEMBER)) {
    pthread_mutex_unlock(&book_lock);
    mlxshim_fail(err, err_cap, "residency set already holds buffer %p", buffer);
    return 1;
  }
  if (!reserve_dirty(b) || !reserve(&b->entries, 1) || !reserve(&everywhere, 1)) {
    pthread_mutex_unlock(&book_lock);
    mlxshim_fail(err, err_cap, "out of host memory growing a residency set");
    return 1;
  }
  s = find(&b->entries, buffer); /* reserve may have moved it */
  if (s == NULL) {
    s = insert(&b->entries, buffer);
    s->length = length;
    b->hold(buffer);
  }
  if (!(s->flags & COMMITTED)) counted_up(buffer);
  s->flags |= MEMBER;
  mark_dirty(b, s);
  b->count++;
  b->member_bytes += s->length;
  b->adds++;
  pthread_mutex_unlock(&book_lock);
  return 0;
}

int32_t mlxshim_book_remove(mlxshim_book *b, void *buffer, char *err, int32_t err_cap) {
  pthread_mutex_lock(&book_lock);
  slot *s = find(&b->entries, buffer);
  if (s == NULL || !(s->flags & MEMBER)) {
    pthread_mutex_unlock(&book_lock);
    mlxshim_fail(err, err_cap, "residency set does not hold buffer %p", buffer);
    return 1;
  }
  if (!reserve_dirty(b)) {
    pthread_mutex_unlock(&book_lock);
    mlxshim_fail(err, err_cap, "out of host memory growing a residency set");
    return 1;
  }
  s->flags &= ~MEMBER;
  if (!(s->flags & COMMITTED)) counted_down(buffer);
  mark_dirty(b, s);
  b->count--;
  b->member_bytes -= s->length;
  b->removes++;
  pthread_mutex_unlock(&book_lock);
  return 0;
}

void mlxshim_book_commit(mlxshim_book *b) {
  pthread_mutex_lock(&book_lock);
  for (uint32_t i = 0; i < b->dirty_count; i++) {
    void *buffer = b->dirty[i];
    slot *s = find(&b->entries, buffer);
    if (s == NULL) continue;
    s->flags &= ~DIRTY;
    if (s->flags & MEMBER) {
      s->flags |= COMMITTED;
      continue;
    }
    if (s->flags & COMMITTED) counted_down(buffer);
    erase(&b->entries, s);
    b->unhold(buffer);
  }
  b->dirty_count = 0;
  b->committed_bytes = b->member_bytes;
  b->commits++;
  pthread_mutex_unlock(&book_lock);
}

void mlxshim_book_free(mlxshim_book *b) {
  if (b == NULL) return;
  pthread_mutex_lock(&book_lock);
  for (uint32_t i = 0; i < b->entries.cap; i++) {
    slot *s = &b->entries.slots[i];
    if (s->key == NULL) continue;
    if (s->flags & (MEMBER | COMMITTED)) counted_down(s->key);
    b->unhold(s->key);
  }
  pthread_mutex_unlock(&book_lock);
  free(b->entries.slots);
  free(b->dirty);
  free(b);
}

int32_t mlxshim_book_check_release(void *buffer, char *err, int32_t err_cap) {
  pthread_mutex_lock(&book_lock);
  slot *g = find(&everywhere, buffer);
  int32_t sets = g == NULL ? 0 : g->sets;
  pthread_mutex_unlock(&book_lock);
  if (sets == 0) return 0;
  mlxshim_fail(err, err_cap,
               "buffer %p is still a member of %d residency set(s), staged or committed: remove it"
               " and commit before releasing it",
               buffer, sets);
  return 1;
}

int32_t mlxshim_book_contains(mlxshim_book *b, void *buffer) {
  pthread_mutex_lock(&book_lock);
  slot *s = find(&b->entries, buffer);
  int32_t member = s != NULL && (s->flags & MEMBER);
  pthread_mutex_unlock(&book_lock);
  return member;
}

void mlxshim_book_read(mlxshim_book *b, mlxshim_book_figures *out) {
  pthread_mutex_lock(&book_lock);
  out->count = b->count;
  out->clean = b->dirty_count == 0;
  out->committed_bytes = b->committed_bytes;
  out->adds = b->adds;
  out->removes = b->removes;
  out->commits = b->commits;
  pthread_mutex_unlock(&book_lock);
}
