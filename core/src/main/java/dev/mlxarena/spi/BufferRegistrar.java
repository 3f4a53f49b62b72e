package dev.mlxarena.spi;

/**
 * Something that must know every device buffer a pool holds, for as long as it holds it: an NCCL
 * communicator ({@code ncclCommRegister}), a pinned-memory or RDMA registration. Registration is
 * costly and pooled memory is recycled every token, so a pool given registrars ({@code
 * PoolOptions.Builder.registrar}) registers each fresh device buffer with each of them once, when
 * it first comes from the device, and deregisters it once, before its memory goes back to the
 * device; a buffer recycled through the free lists is never registered again. The residency set
 * is the device's own registrar of this kind, with staged commits.
 *
 * <p>The pool never calls a registrar while holding its lock: calls are queued under the lock and
 * made, in the order they were queued, by the thread that leaves the locked section, before that
 * pool call returns. So a buffer is registered before the allocation that made it returns it,
 * and deregistered before the memory is freed. Calls from one pool never overlap; a registrar
 * shared by several pools must be thread-safe.
 *
 * <p>A registration that throws is contained: the pool logs and counts it, the buffer stays in use
 * unregistered with that registrar, and it is not deregistered from it. A deregistration that
 * throws is logged and counted, and the buffer's memory is then never given back to the device (a
 * registrar that may still hold it could otherwise touch freed memory).
 */
public interface BufferRegistrar {

  /** Registers {@code buffer}, a fresh device allocation the pool now holds. */
  void register(DeviceBuffer buffer);

  /** Deregisters {@code buffer}, registered earlier; its memory is freed after this returns. */
  void deregister(DeviceBuffer buffer);
}
