package dev.mlxarena.metal;

/** Where a Metal buffer's memory lives, as {@code MTLResourceStorageMode}. */
public enum StorageMode {
  /** CPU and GPU share the memory: the host view works directly. The default. */
  SHARED(0),
  /** GPU-only memory: host access goes through explicit blit copies. */
  PRIVATE(1);

  final int code;

  StorageMode(int code) {
    this.code = code;
  }
}
