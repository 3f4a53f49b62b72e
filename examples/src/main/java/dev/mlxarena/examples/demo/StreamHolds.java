package dev.mlxarena.examples.demo;

import dev.mlxarena.cuda.CudaDevice;
import dev.mlxarena.cuda.PinnedHostBuffer;

/**
 * Holds a stream so that the GPU runs a stretch of work alone: {@link #arm} enqueues the {@code
 * hold} kernel, which spins until the host releases it ({@link #release}); work enqueued between
 * the two waits behind it and then runs back to back, however slowly the host enqueued it. Events
 * around that work time the GPU's own pace, with no gaps where it waited for the host.
 *
 * <p>Each hold has its own slot (a release word and an outcome word in mapped pinned memory),
 * since the GPU may reach a hold only after the host has armed the next one. A hold the host fails
 * to release within {@value #TIMEOUT_NANOS} ns lets go by itself and says so ({@link #timedOut}):
 * that happens when the host waits for the GPU while the hold is armed (a synchronizing driver
 * call, such as the context synchronization that zero-fills a fresh device allocation), or when
 * the driver blocks a launch because the held queue is full.
 */
final class StreamHolds implements AutoCloseable {
  static final long TIMEOUT_NANOS = 200_000_000L;

  private final PinnedHostBuffer words;
  private final int slots;

  StreamHolds(CudaDevice device, int slots) {
    this.slots = slots;
    this.words = PinnedHostBuffer.allocate(device, 8L * Math.max(1, slots));
  }

  /** Enqueues hold {@code slot} on the kernels' stream. */
  void arm(GpuKernels k, int slot) {
    long at = 8L * check(slot);
    words.putIntVolatile(at, 0);
    words.putIntVolatile(at + 4, 0);
    k.hold(words.devicePointer() + at, words.devicePointer() + at + 4, TIMEOUT_NANOS);
  }

  /** Lets hold {@code slot} go. */
  void release(int slot) {
    words.putIntVolatile(8L * check(slot), 1);
  }

  /** How many holds let go by themselves; read once the stream has passed them. */
  int timedOut() {
    int n = 0;
    for (int i = 0; i < slots; i++) {
      n += words.getInt(8L * i + 4) == 2 ? 1 : 0;
    }
    return n;
  }

  private int check(int slot) {
    if (slot < 0 || slot >= slots) {
      throw new IndexOutOfBoundsException("hold " + slot + " of " + slots);
    }
    return slot;
  }

  @Override
  public void close() {
    words.close();
  }
}
