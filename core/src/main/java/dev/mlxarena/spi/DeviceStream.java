package dev.mlxarena.spi;

import dev.mlxarena.Fence;

/**
 * An ordered queue of device work: a CUDA stream, a Metal command queue. Work enqueued on one
 * stream runs in the order it was enqueued, so memory that earlier work on the stream used may be
 * handed to later work on the same stream at once, without the host waiting for the device.
 *
 * <h2>Stream-ordered reuse</h2>
 * A scope opened on a stream ({@link dev.mlxarena.BufferPool#openScope(DeviceStream)}) hands its
 * buffers back in stream order: when it closes, or when one of its buffers is released or closed,
 * the pool records a fence on the stream ({@link #recordFence()}). The buffers are then reusable at
 * once by later allocations on the same stream, and by other streams, stream-less scopes and host
 * access only once that fence has completed. The host never waits for the device: in a decode loop
 * each token's scope adopts the buffers the previous token's scope returned, even while the device
 * is still running that token, and allocates from them without the pool's lock.
 *
 * <pre>{@code
 * try (Scope token = pool.openScope(stream)) {   // token t+1
 *   Buffer h = token.alloc(bytes, DType.F32, n); // may be token t's buffer, still in use on the
 *   rmsNorm.launch(stream, x, h);                // device: only work queued after token t's on
 * }                                              // this stream touches it
 * Buffer y = pool.alloc(bytes, DType.F32);       // never token t+1's buffers until the fence
 * }</pre>
 *
 * <p>What this asks of the caller: use a stream scope's buffers only from work ordered after the
 * work already enqueued on the stream: kernels and copies on the stream itself, or other streams
 * and the host only after waiting for it (an event, a synchronize). A buffer of such a scope may
 * come straight from earlier work on the stream that the device has not run yet.
 *
 * <p>The pool compares streams by identity, calls {@link #recordFence()} without holding its lock
 * (after any poisoning fills it enqueued, see {@link
 * dev.mlxarena.PoolOptions#isPoisonOnRecycle()}), and polls a stream's fences oldest first,
 * relying on them completing in the order they were recorded. A fence that a later one of the same
 * stream covers is closed once nothing waits on it any more, perhaps before it completed.
 * Implementations must be thread-safe.
 */
public interface DeviceStream {

  /** The device whose work this stream orders. */
  Device device();

  /**
   * A fence at the current end of this stream: it completes once every piece of work enqueued on
   * the stream so far has finished. Must not block. If it throws, the buffers the pool was handing
   * back with it are held out of reuse until the pool closes, and the exception is the cause of
   * the one the pool throws.
   */
  Fence recordFence();
}
