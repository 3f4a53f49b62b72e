package dev.mlxarena.cuda;

/** The reductions NCCL's collectives take ({@code ncclRedOp_t}). */
public enum NcclOp {
  SUM(0),
  PROD(1),
  MAX(2),
  MIN(3),
  /** The mean over the ranks (NCCL 2.10 and later). */
  AVG(4);

  final int code;

  NcclOp(int code) {
    this.code = code;
  }
}
