package dev.mlxarena.bench;

import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.spi.DeviceStream;
import dev.mlxarena.Fence;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.Scope;
import dev.mlxarena.host.HostDevice;
import dev.mlxarena.spi.Device;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * One token's arena cycle on a stream, as {@link TokenCycleBenchmark} measures it without one:
 * {@code pool.openScope(stream)}, every allocation of a {@link Traces trace}, then the scope's
 * close, which records a fence on the stream; figures are per allocation. The stream is a host
 * stand-in whose fences are all {@code complete} (the device keeps up) or all {@code pending} (it
 * never catches up, as when the host runs tokens ahead). Either way a token reuses the last
 * token's buffers at once and polls no fence, so both should cost what a stream-less token does
 * ({@code ArenaCycleBenchmark.pool}).
 */
@State(org.openjdk.jmh.annotations.Scope.Thread)
public class StreamCycleBenchmark extends TokenTimed {

  @Param({"decode", "small"})
  public String trace;

  @Param({"complete", "pending"})
  public String fences;

  private long[] sizes;
  private Device device;
  private BufferPool pool;
  private DeviceStream stream;

  /** A host stream whose fences are constants, so that recording one costs nothing. */
  private record HostStream(Device device, Fence fence) implements DeviceStream {
    @Override
    public Fence recordFence() {
      return fence;
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    sizes = Traces.named(trace);
    device = HostDevice.create();
    pool = Cycles.warmed(device, PoolOptions.defaults(), sizes);
    Fence fence = "complete".equals(fences) ? () -> true : () -> false;
    stream = new HostStream(device, fence);
    try (Scope first = pool.openScope(stream)) { // the first token on the stream fills its lane
      for (long s : sizes) {
        first.alloc(s, DType.U8);
      }
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    pool.close();
    device.close();
  }

  /** One token on the stream. */
  @Benchmark
  public void poolOnStream(Blackhole bh) {
    try (Scope token = pool.openScope(stream)) {
      for (long s : sizes) {
        bh.consume(token.alloc(s, DType.U8));
      }
    }
  }
}
