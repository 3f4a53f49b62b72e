/*
 * A CPU stand-in for cuBLAS: the calls the project makes (declared here with cublas_api.h's C
 * types), computed as cuBLAS defines them (column-major, op(A), leading dimensions), so that the
 * layout the Java side asks for is checked, not just the values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stand_in.h"

typedef int cublasStatus_t;
typedef void* cublasHandle_t;
typedef int cublasOperation_t;
typedef int cudaDataType;
enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_INVALID_VALUE = 7, CUBLAS_STATUS_NOT_SUPPORTED = 15 };
enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_DEFAULT_MATH = 0, CUBLAS_COMPUTE_32F = 68 };
enum { CUDA_R_32F = 0, CUDA_R_16BF = 14 };

static void* current;
static int handles;
static uint16_t f2bf(float f) { uint32_t u; memcpy(&u, &f, 4); u += 0x7fffu + ((u >> 16) & 1u); return (uint16_t) (u >> 16); }
static float bf2f(uint16_t b) { uint32_t u = (uint32_t) b << 16; float f; memcpy(&f, &u, 4); return f; }
static float get(const void* p, cudaDataType t, long long i) { return t == CUDA_R_32F ? ((const float*) p)[i] : bf2f(((const uint16_t*) p)[i]); }
static void put(void* p, cudaDataType t, long long i, float v) { if (t == CUDA_R_32F) ((float*) p)[i] = v; else ((uint16_t*) p)[i] = f2bf(v); }
cublasStatus_t cublasCreate_v2(cublasHandle_t* h) { *h = (cublasHandle_t) malloc(16); handles++; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDestroy_v2(cublasHandle_t h) { free(h); handles--; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasGetVersion_v2(cublasHandle_t h, int* v) { *v = 130001; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream_v2(cublasHandle_t h, void* s) { current = s; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetMathMode(cublasHandle_t h, int m) { return m == CUBLAS_DEFAULT_MATH ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE; }
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t h, void* w, size_t n) { check_range(w, n); return CUBLAS_STATUS_SUCCESS; }
// C (m x n) = alpha op(A) op(B) + beta C, column-major, as cuBLAS defines it.
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
    const void* alpha, const void* A, cudaDataType at, int lda, const void* B, cudaDataType bt, int ldb,
    const void* beta, void* C, cudaDataType ct, int ldc, int comp, int algo) {
  if (comp != CUBLAS_COMPUTE_32F || at != bt || at != ct || (at != CUDA_R_32F && at != CUDA_R_16BF)) return CUBLAS_STATUS_NOT_SUPPORTED;
  float al = *(const float*) alpha, be = *(const float*) beta; int es = at == CUDA_R_32F ? 4 : 2;
  int arows = ta == CUBLAS_OP_N ? m : k, acols = ta == CUBLAS_OP_N ? k : m;
  int brows = tb == CUBLAS_OP_N ? k : n, bcols = tb == CUBLAS_OP_N ? n : k;
  if (lda < arows || ldb < brows || ldc < m) return CUBLAS_STATUS_INVALID_VALUE;
  check_range(A, ((size_t) lda * (acols - 1) + arows) * es); check_range(B, ((size_t) ldb * (bcols - 1) + brows) * es); check_range(C, ((size_t) ldc * (n - 1) + m) * es);
  for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) {
    float acc = 0;
    for (int p = 0; p < k; p++) {
      float a = ta == CUBLAS_OP_N ? get(A, at, i + (long long) p * lda) : get(A, at, p + (long long) i * lda);
      float b = tb == CUBLAS_OP_N ? get(B, bt, p + (long long) j * ldb) : get(B, bt, j + (long long) p * ldb);
      acc += a * b;
    }
    float c = be == 0 ? 0 : be * get(C, ct, i + (long long) j * ldc);
    put(C, ct, i + (long long) j * ldc, al * acc + c);
  }
  return CUBLAS_STATUS_SUCCESS;
}
// y = alpha op(A) x + beta y, A m x n column-major.
static cublasStatus_t gemv(cublasOperation_t t, int m, int n, float al, const void* A, int lda, const void* x, int incx,
    float be, void* y, int incy, cudaDataType ty) {
  int es = ty == CUDA_R_32F ? 4 : 2; int xl = t == CUBLAS_OP_N ? n : m, yl = t == CUBLAS_OP_N ? m : n;
  if (lda < m || incx != 1 || incy != 1) return CUBLAS_STATUS_INVALID_VALUE;
  check_range(A, ((size_t) lda * (n - 1) + m) * es); check_range(x, (size_t) xl * es); check_range(y, (size_t) yl * es);
  for (int i = 0; i < yl; i++) {
    float acc = 0;
    for (int p = 0; p < xl; p++) acc += (t == CUBLAS_OP_N ? get(A, ty, i + (long long) p * lda) : get(A, ty, p + (long long) i * lda)) * get(x, ty, p);
    put(y, ty, i, al * acc + (be == 0 ? 0 : be * get(y, ty, i)));
  }
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSgemv_v2(cublasHandle_t h, cublasOperation_t t, int m, int n, const float* al, const float* A, int lda,
    const float* x, int incx, const float* be, float* y, int incy) { return gemv(t, m, n, *al, A, lda, x, incx, *be, y, incy, CUDA_R_32F); }
cublasStatus_t cublasTSTgemvStridedBatched(cublasHandle_t h, cublasOperation_t t, int m, int n, const float* al, const void* A,
    int lda, long long sa, const void* x, int incx, long long sx, const float* be, void* y, int incy, long long sy, int batch) {
  if (batch != 1) return CUBLAS_STATUS_NOT_SUPPORTED;
  return gemv(t, m, n, *al, A, lda, x, incx, *be, y, incy, CUDA_R_16BF);
}
