package dev.mlxarena.bench;

import dev.mlxarena.host.HostDevice;
import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.infra.Blackhole;

/**
 * One token's arena cycle: every allocation of a {@link Traces trace}, then all of them handed
 * back at once. Each benchmark invocation is one cycle; figures are per allocation
 * ({@code @OperationsPerInvocation}). Run with {@code -prof gc} for bytes of garbage per
 * allocation ({@code gc.alloc.rate.norm}).
 *
 * <ul>
 *   <li>{@code pool}: {@link BufferPool} on {@link HostDevice}, one {@link Scope} per cycle, in
 *       steady state (every bucket warmed by setup, so no cycle touches the device);
 *   <li>{@code unpooled}: the same device without a pool: allocate, zero-fill, free;
 *   <li>{@code netty}: Netty's {@code PooledByteBufAllocator} direct buffers, allocate then
 *       release;
 *   <li>{@code arrayStackFloor}: a bare unsynchronized array-stack free list with no handles and
 *       no checks, the floor any pool pays;
 *   <li>{@code handleFloor}: the same free list plus a fresh handle object per allocation, of the
 *       pool's handle size ({@link HandleFloor}): the floor of any pool whose handles are new
 *       objects, which a stale-safe handle must be.
 * </ul>
 */
public class ArenaCycleBenchmark extends TokenCycleBenchmark {

  @Param({"decode", "small"})
  public String trace;

  private DeviceBuffer[] raw;
  private ByteBuf[] netty;
  private PooledByteBufAllocator alloc;
  private long[][] stacks;
  private int[] stackTops;
  private int[] bucketOf;
  private long[] taken;
  private HandleFloor handles;

  @Override
  protected Device openDevice() {
    return HostDevice.create();
  }

  @Override
  protected long[] trace() {
    return Traces.named(trace);
  }

  @Override
  protected void afterSetUp() {
    raw = new DeviceBuffer[sizes.length];
    netty = new ByteBuf[sizes.length];
    alloc = new PooledByteBufAllocator(true);
    stacks = new long[64][sizes.length];
    stackTops = new int[64];
    bucketOf = new int[sizes.length];
    taken = new long[sizes.length];
    for (int i = 0; i < sizes.length; i++) {
      int b = 64 - Long.numberOfLeadingZeros(sizes[i] - 1);
      bucketOf[i] = b;
      stacks[b][stackTops[b]++] = i + 1;
    }
    handles = new HandleFloor(sizes);
  }

  @Benchmark
  public void unpooled(Blackhole bh) {
    DeviceBuffer[] r = raw;
    for (int i = 0; i < sizes.length; i++) {
      DeviceBuffer b = device.allocate(sizes[i]);
      device.fillZero(b, 0, sizes[i]);
      r[i] = b;
    }
    bh.consume(r);
    for (int i = 0; i < r.length; i++) {
      device.free(r[i]);
      r[i] = null;
    }
  }

  @Benchmark
  public void netty(Blackhole bh) {
    ByteBuf[] n = netty;
    for (int i = 0; i < sizes.length; i++) {
      n[i] = alloc.directBuffer((int) sizes[i]);
    }
    bh.consume(n);
    for (int i = 0; i < n.length; i++) {
      n[i].release();
      n[i] = null;
    }
  }

  @Benchmark
  public void arrayStackFloor(Blackhole bh) {
    for (int i = 0; i < sizes.length; i++) {
      int b = bucketOf[i];
      taken[i] = stacks[b][--stackTops[b]];
    }
    bh.consume(taken);
    for (int i = 0; i < sizes.length; i++) {
      int b = bucketOf[i];
      stacks[b][stackTops[b]++] = taken[i];
    }
  }

  @Benchmark
  public void handleFloor(Blackhole bh) {
    handles.token(bh);
  }
}
