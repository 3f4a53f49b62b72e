/*
 * A CPU stand-in for NCCL over the libcuda stand-in's GPUs, for check-gpu-path-on-cpu.sh: several
 * "GPUs" in one process, communicators made at once (ncclCommInitAll) or rank by rank from a
 * unique id (ncclCommInitRank, in a group or one thread per rank), an all-reduce that sums on the
 * host (declared here with nccl.h's C types, which this machine need not have), and buffer
 * registration.
 *
 * The libcuda stand-in runs everything synchronously, so a collective cannot be left to the GPU:
 * the rank that arrives last computes it and the others wait for it on the host. Ranks driven by
 * one thread each meet that way; ranks driven from one thread must be in one group, which runs
 * their collectives at ncclGroupEnd. What real NCCL leaves undefined or frees silently aborts here
 * with what happened: a buffer of another GPU, a stream of another GPU, one buffer registered twice
 * with a rank at once (a pool registers each of its blocks once), memory freed while registered
 * (the libcuda stand-in checks), a call on a destroyed communicator, and destroying one that still
 * has registrations. At exit it prints what was registered and deregistered.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int ncclResult_t;
enum { ncclSuccess = 0, ncclInternalError = 3, ncclInvalidArgument = 4, ncclInvalidUsage = 5, ncclRemoteError = 6 };
enum { ncclInt32 = 2, ncclInt64 = 4, ncclFloat16 = 6, ncclFloat32 = 7, ncclFloat64 = 8, ncclBfloat16 = 9 };
enum { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 };
typedef struct { char internal[128]; } ncclUniqueId;
#define MAXR 8

// From the libcuda stand-in.
int stand_in_current_device(void);
int stand_in_stream_device(void* stream);
void stand_in_check_device_range(const void* p, size_t bytes, int dev, const char* who);
int stand_in_registered(const void* p, int delta);
int cuDeviceGetCount(int* n);

typedef struct Reg { const void* buff; size_t size; struct Reg* next; } Reg;
typedef struct Op { const void* send; void* recv; size_t count; int type, op; } Op;
struct Clique;
typedef struct Comm { struct Clique* clique; int rank, dev, destroyed; Reg* regs; int live; } Comm;
typedef struct Clique {
  int nranks, joined, aborted;
  long long id;                 // the unique id's number, for ncclCommInitRank; 0 for ncclCommInitAll
  Comm* comms[MAXR];
  Op ops[MAXR]; int arrived; long long generation; ncclResult_t outcome;
  pthread_cond_t cv;
  struct Clique* next;
} Clique;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Clique* cliques;
static long long next_id = 1;
static long long registered, deregistered;
static int used;
static __thread char last[256];
static __thread int depth;      // ncclGroupStart nesting on this thread
typedef struct Queued { Comm* comm; Op op; struct Queued* next; } Queued;
static __thread Queued* queued; // collectives of this thread's open group
static __thread Comm* pending_init[MAXR * 4];
static __thread int npending;

static void die(const char* what, int rank) {
  fprintf(stderr, "nccl stand-in: %s (rank %d)\n", what, rank);
  fflush(stderr);
  abort();
}
static ncclResult_t fail(ncclResult_t r, const char* fmt, long long a, long long b) {
  snprintf(last, sizeof last, fmt, a, b);
  return r;
}
static void report(void) {
  if (used) fprintf(stderr, "nccl stand-in: %lld registrations, %lld deregistrations\n", registered, deregistered);
}
static void live(Comm* c, const char* call) {
  if (!c) die("a call on no communicator", -1);
  if (c->destroyed) {
    char m[96];
    snprintf(m, sizeof m, "%s on a destroyed communicator", call);
    die(m, c->rank);
  }
}

ncclResult_t ncclGetVersion(int* v) { *v = 22705; return ncclSuccess; }
const char* ncclGetErrorString(ncclResult_t r) {
  switch (r) {
    case 0: return "no error";
    case 1: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    case 2: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case 3: return "internal error - please report this issue to the NCCL developers";
    case 4: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case 5: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    case 6: return "remote process exited or there was a network error";
    default: return "unknown result code";
  }
}
const char* ncclGetLastError(Comm* c) { return last; }

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  memset(id, 0, sizeof *id);
  pthread_mutex_lock(&lock);
  long long n = next_id++;
  pthread_mutex_unlock(&lock);
  memcpy(id->internal, "stand-in", 8);
  memcpy(id->internal + 8, &n, 8);
  return ncclSuccess;
}

static Comm* new_comm(Clique* q, int rank, int dev) {
  Comm* c = calloc(1, sizeof(Comm));
  c->clique = q; c->rank = rank; c->dev = dev;
  q->comms[rank] = c;
  return c;
}
static Clique* new_clique(int n, long long id) {
  Clique* q = calloc(1, sizeof(Clique));
  q->nranks = n; q->id = id;
  pthread_cond_init(&q->cv, NULL);
  q->next = cliques; cliques = q;
  return q;
}

ncclResult_t ncclCommInitAll(Comm** comms, int n, const int* devs) {
  int gpus = 0;
  cuDeviceGetCount(&gpus);
  if (n < 1 || n > MAXR) return fail(ncclInvalidArgument, "Invalid number of devices %lld", n, 0);
  for (int i = 0; i < n; i++) {
    int d = devs ? devs[i] : i;
    if (d < 0 || d >= gpus) return fail(ncclInvalidArgument, "Invalid device %lld of %lld", d, gpus);
    for (int j = 0; j < i; j++) if ((devs ? devs[j] : j) == d) return fail(ncclInvalidUsage, "Duplicate device %lld", d, 0);
  }
  pthread_mutex_lock(&lock);
  used = 1;
  Clique* q = new_clique(n, 0);
  for (int i = 0; i < n; i++) comms[i] = new_comm(q, i, devs ? devs[i] : i);
  q->joined = n;
  pthread_mutex_unlock(&lock);
  return ncclSuccess;
}

// Waits (with the lock held) until every rank of c's clique has joined.
static ncclResult_t await_joined(Comm* c) {
  Clique* q = c->clique;
  while (q->joined < q->nranks && !q->aborted) pthread_cond_wait(&q->cv, &lock);
  return q->aborted ? fail(ncclRemoteError, "the communicator was aborted while rank %lld waited for the others", c->rank, 0)
                    : ncclSuccess;
}

ncclResult_t ncclCommInitRank(Comm** comm, int n, ncclUniqueId id, int rank) {
  long long num;
  if (memcmp(id.internal, "stand-in", 8) != 0) return fail(ncclInvalidArgument, "Invalid unique id", 0, 0);
  memcpy(&num, id.internal + 8, 8);
  if (n < 1 || n > MAXR || rank < 0 || rank >= n) return fail(ncclInvalidArgument, "Invalid rank %lld of %lld", rank, n);
  int dev = stand_in_current_device();
  if (dev < 0) return fail(ncclInvalidUsage, "No CUDA device is current for rank %lld", rank, 0);
  pthread_mutex_lock(&lock);
  used = 1;
  Clique* q = cliques;
  while (q && q->id != num) q = q->next;
  if (!q) q = new_clique(n, num);
  if (q->nranks != n || q->comms[rank]) {
    pthread_mutex_unlock(&lock);
    return fail(ncclInvalidUsage, "Rank %lld joined twice, or with another size (%lld)", rank, n);
  }
  Comm* c = new_comm(q, rank, dev);
  q->joined++;
  pthread_cond_broadcast(&q->cv);
  *comm = c;
  ncclResult_t r = ncclSuccess;
  if (depth == 0) r = await_joined(c);
  else pending_init[npending++] = c;
  pthread_mutex_unlock(&lock);
  return r;
}

static int elem_size(int type) {
  switch (type) {
    case ncclInt32: case ncclFloat32: return 4;
    case ncclInt64: case ncclFloat64: return 8;
    case ncclFloat16: case ncclBfloat16: return 2;
    default: return 0;
  }
}
static double get(const void* p, int type, size_t i) {
  switch (type) {
    case ncclFloat32: return ((const float*) p)[i];
    case ncclFloat64: return ((const double*) p)[i];
    case ncclInt32: return ((const int32_t*) p)[i];
    case ncclInt64: return (double) ((const int64_t*) p)[i];
    case ncclBfloat16: { uint32_t u = (uint32_t) ((const uint16_t*) p)[i] << 16; float f; memcpy(&f, &u, 4); return f; }
    default: return 0; // fp16 is refused before this
  }
}
static void put(void* p, int type, size_t i, double v) {
  switch (type) {
    case ncclFloat32: ((float*) p)[i] = (float) v; break;
    case ncclFloat64: ((double*) p)[i] = v; break;
    case ncclInt32: ((int32_t*) p)[i] = (int32_t) v; break;
    case ncclInt64: ((int64_t*) p)[i] = (int64_t) v; break;
    case ncclBfloat16: { float f = (float) v; uint32_t u; memcpy(&u, &f, 4); u += 0x7fffu + ((u >> 16) & 1u);
      ((uint16_t*) p)[i] = (uint16_t) (u >> 16); break; }
  }
}
// Every rank's op is in q->ops: checks they agree, then reduces in rank order (float types in fp32,
// as NCCL's kernels add) into every rank's recv. With the lock held.
static ncclResult_t reduce(Clique* q) {
  Op* o = q->ops;
  for (int r = 1; r < q->nranks; r++)
    if (o[r].count != o[0].count || o[r].type != o[0].type || o[r].op != o[0].op)
      return fail(ncclInvalidUsage, "Ranks 0 and %lld called the all-reduce with different counts, types or ops", r, 0);
  size_t n = o[0].count;
  double* acc = malloc((n ? n : 1) * sizeof(double));
  int fp = o[0].type != ncclInt32 && o[0].type != ncclInt64;
  for (size_t i = 0; i < n; i++) {
    double a = get(o[0].send, o[0].type, i);
    for (int r = 1; r < q->nranks; r++) {
      double b = get(o[r].send, o[r].type, i);
      switch (o[0].op) {
        case ncclSum: case ncclAvg: a = fp ? (double) ((float) a + (float) b) : a + b; break;
        case ncclProd: a = fp ? (double) ((float) a * (float) b) : a * b; break;
        case ncclMax: a = b > a ? b : a; break;
        case ncclMin: a = b < a ? b : a; break;
      }
    }
    acc[i] = o[0].op == ncclAvg ? a / q->nranks : a;
  }
  for (int r = 0; r < q->nranks; r++) for (size_t i = 0; i < n; i++) put(o[r].recv, o[r].type, i, acc[i]);
  free(acc);
  return ncclSuccess;
}

// One rank's part of a collective, outside a group: the last to arrive reduces, the others wait.
static ncclResult_t meet(Comm* c, Op op) {
  Clique* q = c->clique;
  pthread_mutex_lock(&lock);
  if (q->aborted) { pthread_mutex_unlock(&lock); return fail(ncclRemoteError, "The communicator was aborted", 0, 0); }
  long long gen = q->generation;
  q->ops[c->rank] = op;
  if (++q->arrived == q->nranks) {
    q->outcome = reduce(q);
    q->arrived = 0;
    q->generation++;
    pthread_cond_broadcast(&q->cv);
  } else {
    while (q->generation == gen && !q->aborted) pthread_cond_wait(&q->cv, &lock);
  }
  ncclResult_t r = q->generation == gen ? ncclRemoteError : q->outcome;
  if (r == ncclRemoteError) snprintf(last, sizeof last, "The communicator was aborted while rank %d waited", c->rank);
  pthread_mutex_unlock(&lock);
  return r;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, int type, int op, Comm* c, void* stream) {
  live(c, "ncclAllReduce");
  int es = elem_size(type);
  if (!es || type == ncclFloat16) return fail(ncclInvalidArgument, "Invalid type %lld", type, 0);
  if (op < 0 || op > ncclAvg) return fail(ncclInvalidArgument, "Invalid op %lld", op, 0);
  int sd = stand_in_stream_device(stream);
  if (sd != c->dev) {
    char m[96];
    snprintf(m, sizeof m, "an all-reduce of GPU %d's rank enqueued on a stream of GPU %d", c->dev, sd);
    die(m, c->rank);
  }
  if (count) {
    stand_in_check_device_range(send, count * es, c->dev, "ncclAllReduce's send buffer");
    stand_in_check_device_range(recv, count * es, c->dev, "ncclAllReduce's receive buffer");
  }
  Op o = {send, recv, count, type, op};
  if (depth > 0) {
    Queued* q = malloc(sizeof(Queued));
    q->comm = c; q->op = o; q->next = NULL;
    Queued** end = &queued;
    while (*end) end = &(*end)->next;
    *end = q;
    return ncclSuccess;
  }
  return meet(c, o);
}

ncclResult_t ncclGroupStart(void) { depth++; return ncclSuccess; }
ncclResult_t ncclGroupEnd(void) {
  if (depth == 0) return fail(ncclInvalidUsage, "ncclGroupEnd without ncclGroupStart", 0, 0);
  if (--depth > 0) return ncclSuccess;
  ncclResult_t r = ncclSuccess;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < npending && r == ncclSuccess; i++) r = await_joined(pending_init[i]);
  npending = 0;
  pthread_mutex_unlock(&lock);
  // Collectives: every rank of a clique queued here runs now; a lone rank meets the other threads.
  while (queued && r == ncclSuccess) {
    Queued* head = queued;
    Clique* q = head->comm->clique;
    int mine = 0;
    for (Queued* e = queued; e; e = e->next) if (e->comm->clique == q) mine++;
    if (mine == 1) {
      r = meet(head->comm, head->op);
      queued = head->next;
      free(head);
      continue;
    }
    if (mine != q->nranks) { r = fail(ncclInvalidUsage, "A group holds %lld of %lld ranks' collectives", mine, q->nranks); break; }
    pthread_mutex_lock(&lock);
    Queued** at = &queued;
    while (*at) {
      Queued* e = *at;
      if (e->comm->clique == q) { q->ops[e->comm->rank] = e->op; *at = e->next; free(e); } else at = &e->next;
    }
    r = reduce(q);
    pthread_mutex_unlock(&lock);
  }
  while (queued) { Queued* e = queued; queued = e->next; free(e); }
  return r;
}

ncclResult_t ncclCommCount(const Comm* c, int* n) { live((Comm*) c, "ncclCommCount"); *n = c->clique->nranks; return ncclSuccess; }
ncclResult_t ncclCommCuDevice(const Comm* c, int* d) { live((Comm*) c, "ncclCommCuDevice"); *d = c->dev; return ncclSuccess; }
ncclResult_t ncclCommUserRank(const Comm* c, int* r) { live((Comm*) c, "ncclCommUserRank"); *r = c->rank; return ncclSuccess; }
ncclResult_t ncclCommGetAsyncError(Comm* c, ncclResult_t* e) {
  live(c, "ncclCommGetAsyncError");
  *e = c->clique->aborted ? ncclRemoteError : ncclSuccess;
  return ncclSuccess;
}

ncclResult_t ncclCommRegister(const Comm* cc, void* buff, size_t size, void** handle) {
  Comm* c = (Comm*) cc;
  live(c, "ncclCommRegister");
  stand_in_check_device_range(buff, size, c->dev, "ncclCommRegister");
  pthread_mutex_lock(&lock);
  for (Reg* g = c->regs; g; g = g->next)
    if (g->buff == buff) { pthread_mutex_unlock(&lock); die("one buffer registered twice with the same rank", c->rank); }
  Reg* g = malloc(sizeof(Reg));
  g->buff = buff; g->size = size; g->next = c->regs; c->regs = g;
  c->live++;
  registered++;
  pthread_mutex_unlock(&lock);
  stand_in_registered(buff, 1);
  *handle = g;
  return ncclSuccess;
}
ncclResult_t ncclCommDeregister(const Comm* cc, void* handle) {
  Comm* c = (Comm*) cc;
  live(c, "ncclCommDeregister");
  if (!handle) return ncclSuccess;
  pthread_mutex_lock(&lock);
  Reg** at = &c->regs;
  while (*at && *at != handle) at = &(*at)->next;
  if (!*at) { pthread_mutex_unlock(&lock); return fail(ncclInvalidUsage, "Deregister: could not find handle", 0, 0); }
  Reg* g = *at;
  *at = g->next;
  c->live--;
  deregistered++;
  pthread_mutex_unlock(&lock);
  stand_in_registered(g->buff, -1);
  free(g);
  return ncclSuccess;
}

static void drop_regs(Comm* c) {
  while (c->regs) { Reg* g = c->regs; c->regs = g->next; stand_in_registered(g->buff, -1); free(g); }
  c->live = 0;
}
ncclResult_t ncclCommDestroy(Comm* c) {
  live(c, "ncclCommDestroy");
  pthread_mutex_lock(&lock);
  if (c->live) {
    char m[96];
    snprintf(m, sizeof m, "a communicator destroyed with %d buffers still registered", c->live);
    pthread_mutex_unlock(&lock);
    die(m, c->rank);
  }
  c->destroyed = 1;
  pthread_mutex_unlock(&lock);
  return ncclSuccess;
}
ncclResult_t ncclCommAbort(Comm* c) {
  live(c, "ncclCommAbort");
  pthread_mutex_lock(&lock);
  c->clique->aborted = 1;
  pthread_cond_broadcast(&c->clique->cv);
  c->destroyed = 1;
  pthread_mutex_unlock(&lock);
  drop_regs(c);
  return ncclSuccess;
}

__attribute__((constructor)) static void at_load(void) { atexit(report); }
