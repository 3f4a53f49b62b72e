/*
 * A CPU stand-in for NVRTC: compiles nothing, but takes the calls NVRTC takes (declared here with
 * nvrtc.h's C types) and hands back an image the libcuda stand-in loads. A source containing
 * "flaot" fails with a compiler-style log, for the error paths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvrtcResult;
typedef struct { char* src; char name[128]; char log[256]; char image[256]; } Program;

nvrtcResult nvrtcVersion(int* major, int* minor) { *major = 13; *minor = 0; return 0; }
nvrtcResult nvrtcGetNumSupportedArchs(int* n) { *n = 8; return 0; }
nvrtcResult nvrtcGetSupportedArchs(int* a) { int v[] = {75, 80, 86, 87, 89, 90, 100, 120}; memcpy(a, v, sizeof v); return 0; }
nvrtcResult nvrtcCreateProgram(Program** p, const char* src, const char* name, int headers, const char* const* h,
    const char* const* names) {
  if (headers != 0 || h != NULL || names != NULL) return 3;
  Program* g = calloc(1, sizeof(Program));
  g->src = strdup(src);
  snprintf(g->name, sizeof g->name, "%s", name);
  *p = g;
  return 0;
}
nvrtcResult nvrtcCompileProgram(Program* g, int n, const char* const* opts) {
  if (n < 1 || strncmp(opts[0], "--gpu-architecture=", 19) != 0) {
    snprintf(g->log, sizeof g->log, "stand-in nvrtc: the first option is %s", n ? opts[0] : "missing");
    return 5;
  }
  if (strstr(g->src, "flaot")) {
    snprintf(g->log, sizeof g->log, "%s(1): error: identifier \"flaot\" is undefined\n1 error detected", g->name);
    return 6;
  }
  snprintf(g->image, sizeof g->image, "STAND-IN IMAGE %s %s, %d options", g->name, opts[0] + 19, n);
  return 0;
}
nvrtcResult nvrtcGetProgramLogSize(Program* g, size_t* n) { *n = strlen(g->log) + 1; return 0; }
nvrtcResult nvrtcGetProgramLog(Program* g, char* log) { strcpy(log, g->log); return 0; }
nvrtcResult nvrtcGetPTXSize(Program* g, size_t* n) { *n = strlen(g->image) + 1; return 0; }
nvrtcResult nvrtcGetPTX(Program* g, char* out) { strcpy(out, g->image); return 0; }
nvrtcResult nvrtcGetCUBINSize(Program* g, size_t* n) { *n = strstr(g->image, "sm_") ? strlen(g->image) : 0; return 0; }
nvrtcResult nvrtcGetCUBIN(Program* g, char* out) { memcpy(out, g->image, strlen(g->image)); return 0; }
nvrtcResult nvrtcDestroyProgram(Program** p) { free((*p)->src); free(*p); *p = NULL; return 0; }
const char* nvrtcGetErrorString(nvrtcResult r) {
  static char b[64];
  snprintf(b, sizeof b, r == 6 ? "NVRTC_ERROR_COMPILATION" : "nvrtcResult %d", r);
  return b;
}
