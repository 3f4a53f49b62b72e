package dev.mlxarena;

/**
 * How hard the pool looks for scopes and owned buffers that become unreachable without {@code
 * close()}, as Netty's {@code ResourceLeakDetector} does. A leak is reported through {@link
 * System.Logger} with the stack where the resource was opened, and its memory goes back.
 */
public enum LeakDetection {
  /** No tracking at all. */
  DISABLED,
  /** One scope in 128 is tracked, with the stack where it was opened. The default. */
  SAMPLED,
  /** Every scope and owned buffer is tracked, with its stack: for tests and debugging. */
  PARANOID
}
