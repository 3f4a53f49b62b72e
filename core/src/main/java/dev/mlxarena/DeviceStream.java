package dev.mlxarena;

import dev.mlxarena.spi.Device;

/**
 * An ordered queue of device work: a CUDA stream, a Metal command queue. Work enqueued on one
 * stream runs in the order it was enqueued, so memory that earlier work on the stream used may be
 * handed to later work on the same stream at once, without the host waiting for the device.
 *
 * <p>A scope opened on a stream ({@link BufferPool#openScope(DeviceStream)}) recycles its buffers
 * in stream order: when it closes, they are reusable at once by later allocations on the same
 * stream, and by other streams, stream-less scopes or host access only after a fence recorded on
 * this stream at the close has completed. Implementations must be thread-safe; the pool compares
 * streams by identity.
 */
public interface DeviceStream {

  /** The device whose work this stream orders. */
  Device device();

  /**
   * A fence at the current end of this stream: it completes once every piece of work enqueued on
   * the stream so far has finished. Must not block.
   */
  Fence recordFence();
}
