/*
 * residency_book.h: the membership of residency sets, kept by the shim itself and shared by the
 * Metal library and the sim, so that the bookkeeping real Metal relies on runs in tests on every
 * OS.
 *
 * Why the shim keeps its own book rather than asking Metal: Apple documents the content of
 * -[MTLResidencySet allAllocations] and allocationCount inconsistently (the header says they
 * include uncommitted changes, the web documentation that they change on commit), and
 * containsAllocation: says nothing about staged removals. MLX keeps its own map for the same
 * reason. The book decides alone which buffers a set holds and when it lets go of them.
 *
 * For each set the book records, per buffer: whether it is a member (staged additions included,
 * staged removals excluded), whether it was a member at the last commit, and its length. A set
 * holds a buffer (the caller's `hold` callback: a retain on Metal) from the addition until the
 * commit that applies its removal, so a buffer is never deallocated under a set, whatever the
 * caller does. Across all sets it records how many sets count each buffer as a member, staged or
 * committed, which is what mlxshim_buffer_release checks.
 *
 * One process-wide mutex guards every book: membership is read by buffer releases on any thread.
 * Callbacks run with it held; they must not call back into the book.
 */
#ifndef MLXSHIM_RESIDENCY_BOOK_H
#define MLXSHIM_RESIDENCY_BOOK_H

#include <stdint.h>

typedef struct mlxshim_book mlxshim_book;

/* Takes or drops the set's own reference to a buffer. */
typedef void (*mlxshim_book_ref)(void *buffer);

/* A new, empty book, or NULL when out of host memory. */
mlxshim_book *mlxshim_book_new(uint32_t initial_capacity, mlxshim_book_ref hold,
                               mlxshim_book_ref unhold);

/* Records a staged addition and holds the buffer if the set did not hold it yet. Non-zero and err
 * if it is a member already, or when out of host memory (nothing changes then). */
int32_t mlxshim_book_add(mlxshim_book *book, void *buffer, uint64_t length, char *err,
                         int32_t err_cap);

/* Records a staged removal. Non-zero and err if the buffer is not a member. The set keeps holding
 * the buffer until the next commit. */
int32_t mlxshim_book_remove(mlxshim_book *book, void *buffer, char *err, int32_t err_cap);

/* Records a commit, after the caller has committed the real set: staged additions become
 * committed members, and staged removals drop the set's hold (remove, commit, then release). */
void mlxshim_book_commit(mlxshim_book *book);

/* Drops every hold and frees the book; the caller has already emptied and committed the real set. */
void mlxshim_book_free(mlxshim_book *book);

/* 0 if no set counts the buffer as a member, staged or committed; else non-zero and err. */
int32_t mlxshim_book_check_release(void *buffer, char *err, int32_t err_cap);

/* Whether the buffer is a member now. */
int32_t mlxshim_book_contains(mlxshim_book *book, void *buffer);

/* A consistent reading of a book's figures. */
typedef struct {
  int32_t count;            /* members now (staged additions in, staged removals out) */
  int32_t clean;            /* whether nothing changed since the last commit */
  uint64_t committed_bytes; /* bytes of the members as of the last commit */
  int64_t adds, removes, commits;
} mlxshim_book_figures;

void mlxshim_book_read(mlxshim_book *book, mlxshim_book_figures *out);

/* Formats an error message into err, as every shim function does. */
void mlxshim_fail(char *err, int32_t err_cap, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif /* MLXSHIM_RESIDENCY_BOOK_H */
