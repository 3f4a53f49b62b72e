package dev.mlxarena.docs;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.spi.DeviceStream;
import dev.mlxarena.Fence;
import dev.mlxarena.host.HostDevice;
import dev.mlxarena.spi.Device;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * What the README's code blocks use without declaring it: a host device, a pool and a stream on
 * it, the sizes of a small model, the model and its state, a logger, a meter registry, host arrays
 * and stand-ins for launching kernels. A block of statements becomes the body of {@link #run()} in a subclass; a
 * block that declares methods becomes the subclass's body, and {@link #callDeclaredMethods()}
 * calls each with fixture values for its parameters.
 *
 * <p>After a block has run, {@link #silentOutputs} names each output the block writes to (the
 * standard output, {@code log}, {@code registry}) that it left empty: work that a block starts
 * but does not wait for writes nothing by the time it returns.
 */
public abstract class ReadmeFixture implements AutoCloseable {
  private static final Pattern PRINTS = Pattern.compile("\\bprint(ln|f)?\\(|System\\.out");

  /** Stands in for Spring's {@code @Bean}, which the Micrometer block shows. */
  @Retention(RetentionPolicy.RUNTIME)
  @Target(ElementType.METHOD)
  protected @interface Bean {}

  protected final int hidden = 64;
  protected final int heads = 4;
  protected final int ctx = 16;
  protected final int vocab = 128;
  protected final int tokens = 4;
  protected final int rows = 32;
  protected final int cols = 64;
  /** The size of a {@code rows} by {@code cols} BF16 weight. */
  protected final long bytes = 2L * rows * cols;
  protected final long kvBytes = 16L * hidden * 2;
  /** A token the model never produces: a loop that stops on it runs to its token limit. */
  protected final int EOS = -1;

  /** Elements of a vector, as the blocks that size buffers by it use. */
  protected final int n = 1024;

  private final Deque<AutoCloseable> opened = new ArrayDeque<>();

  protected final Device device = HostDevice.create();
  /** A pool on {@link #device}, for blocks that use one without opening it. */
  protected final BufferPool pool = open(BufferPool.create(device));
  /** A stream on the host, whose work is done when enqueued: each fence is complete at once. */
  protected final DeviceStream stream = new DeviceStream() {
    @Override
    public Device device() {
      return device;
    }

    @Override
    public Fence recordFence() {
      return Fence.completed();
    }
  };
  /** A kernel that a block launches on a stream. */
  protected final Kernel kernel = new Kernel();
  protected final Model model = new Model(vocab);
  protected final State state = State.start();
  /** BF16 bit patterns of {@code hidden} values. */
  protected final short[] hostValues = new short[hidden];
  protected final float[] hostLogits = new float[vocab];
  protected final Log log = new Log();
  protected final MeterRegistry registry = new SimpleMeterRegistry();

  /** Stands in for a compiled kernel: a real one would enqueue its work on the stream. */
  protected static final class Kernel {
    public void launch(DeviceStream stream, Buffer buffer) {}
  }

  private <T extends AutoCloseable> T open(T resource) {
    opened.push(resource);
    return resource;
  }

  /** Where a real program would enqueue its kernels on the buffer at {@code devicePointer}. */
  protected void launchKernels(long devicePointer) {}

  /** Where a real program would enqueue its kernels on {@code buffer}. */
  protected void launchKernels(Buffer buffer) {}

  /** The block's statements; empty for a block that declares methods. */
  protected void run() throws Exception {}

  /**
   * Calls every method the block declared, each with the fixture's value for each parameter (a
   * pool on {@link #device}, the device, the registry); binds a {@link MeterBinder} it returns to
   * the registry, and closes an {@link AutoCloseable} it returns when the fixture closes.
   */
  final void callDeclaredMethods() throws Exception {
    for (Method m : getClass().getDeclaredMethods()) {
      if (m.isSynthetic() || m.getName().contains("$") || m.getName().equals("run")) {
        continue;
      }
      List<Object> args = new ArrayList<>();
      for (Class<?> type : m.getParameterTypes()) {
        args.add(argument(type, m));
      }
      m.setAccessible(true);
      Object result;
      try {
        result = m.invoke(this, args.toArray());
      } catch (InvocationTargetException e) {
        throw e.getCause() instanceof Exception ? (Exception) e.getCause() : e;
      }
      if (result instanceof MeterBinder) {
        ((MeterBinder) result).bindTo(registry);
      }
      if (result instanceof AutoCloseable) {
        opened.push((AutoCloseable) result);
      }
    }
  }

  private Object argument(Class<?> type, Method m) {
    if (type == BufferPool.class) {
      BufferPool pool = BufferPool.create(device);
      opened.push(pool);
      return pool;
    }
    if (type.isInstance(device)) {
      return device;
    }
    if (type.isInstance(registry)) {
      return registry;
    }
    throw new AssertionError("the fixture has no " + type.getName() + " for " + m);
  }

  /**
   * The outputs that {@code source} writes to and that stayed empty: the standard output (its
   * text so far is {@code stdout}) when it prints, {@code log} when it logs, {@code registry} when it
   * registers meters. Empty when every one was written.
   */
  final List<String> silentOutputs(String source, String stdout) {
    List<String> silent = new ArrayList<>();
    if (PRINTS.matcher(source).find() && stdout.isEmpty()) {
      silent.add("it prints, and printed nothing");
    }
    if (source.contains("log.") && log.lines().isEmpty()) {
      silent.add("it logs, and logged nothing");
    }
    if ((source.contains("registry") || source.contains("MeterBinder"))
        && registry.getMeters().isEmpty()) {
      silent.add("it registers meters, and the registry has none");
    }
    return silent;
  }

  /** Closes what the fixture opened for the block, the last first, then the registry and device. */
  @Override
  public void close() {
    @Nullable RuntimeException failure = null;
    while (!opened.isEmpty()) {
      AutoCloseable c = opened.pop();
      try {
        c.close();
      } catch (Exception e) {
        if (failure == null) {
          failure = new IllegalStateException("closing " + c + " after the block failed", e);
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    registry.close();
    device.close();
    if (failure != null) {
      throw failure;
    }
  }
}
