package dev.mlxarena.cuda;

import dev.mlxarena.spi.BufferRegistrar;
import dev.mlxarena.spi.DeviceBuffer;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Registers a pool's device buffers with one rank's NCCL communicator ({@code ncclCommRegister}),
 * so that collectives work on pooled buffers in place: give it to the pool on that rank's GPU,
 * and every device buffer the pool takes from the GPU is registered once, however often it is
 * recycled, and deregistered before its memory is freed.
 *
 * <pre>{@code
 * BufferPool pool = BufferPool.create(gpu, PoolOptions.builder().registrar(new NcclRegistrar(comm)).build());
 * try (Scope token = pool.openScope(stream)) {
 *   Buffer x = token.alloc(4L * hidden, DType.F32, hidden);   // registered when it was first made
 *   comm.allReduce(x, NcclOp.SUM, stream);
 * }
 * pool.close();   // deregisters everything: before comm.close()
 * }</pre>
 *
 * <p>Only device memory of the communicator's GPU can be registered. NCCL requires that either
 * every rank passes registered buffers to a collective or none does, so every rank's pool takes
 * one of these, or none does. Thread-safe.
 */
public final class NcclRegistrar implements BufferRegistrar {
  private final NcclComm comm;
  /** Guarded by this. */
  private final Map<DeviceBuffer, NcclComm.Registration> registered = new IdentityHashMap<>();

  public NcclRegistrar(NcclComm comm) {
    this.comm = java.util.Objects.requireNonNull(comm, "comm");
  }

  /** The communicator buffers are registered with. */
  public NcclComm comm() {
    return comm;
  }

  /**
   * @throws IllegalArgumentException if {@code buffer} is not device memory of the communicator's
   *     GPU, or is registered here already
   * @throws NcclException if NCCL refuses
   */
  @Override
  public void register(DeviceBuffer buffer) {
    if (!(buffer instanceof CudaBuffer cb) || cb.owner.ordinal() != comm.device().ordinal() || cb.host != null) {
      throw new IllegalArgumentException(buffer + " is not device memory of " + comm.device()
          + ": only that can be registered with " + comm);
    }
    synchronized (this) {
      if (registered.containsKey(buffer)) {
        throw new IllegalArgumentException(buffer + " is registered with " + comm + " already");
      }
      registered.put(buffer, comm.register(buffer.nativeHandle(), buffer.capacity()));
    }
  }

  /** @throws IllegalArgumentException if {@code buffer} is not registered here */
  @Override
  public void deregister(DeviceBuffer buffer) {
    NcclComm.Registration r;
    synchronized (this) {
      r = registered.remove(buffer);
    }
    if (r == null) {
      throw new IllegalArgumentException(buffer + " is not registered with " + comm);
    }
    comm.deregister(r);
  }

  /** Buffers registered through this now. */
  public synchronized int size() {
    return registered.size();
  }

  @Override
  public String toString() {
    return "NcclRegistrar[" + comm + "]";
  }
}
