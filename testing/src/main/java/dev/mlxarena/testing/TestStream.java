package dev.mlxarena.testing;

import dev.mlxarena.spi.DeviceStream;
import dev.mlxarena.Fence;
import dev.mlxarena.spi.Device;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A {@link DeviceStream} whose fences complete when the test says, in the order they were
 * recorded, as a real stream's do: {@link #completeUpTo} moves the stream's progress on. It
 * records what the pool does with its fences: how often they are polled, and it notes as a
 * violation a fence polled after it was closed, or closed twice. It can fail on demand: every
 * fence polled from then on throws (as a CUDA fence does after a sticky error), or the next
 * {@link #recordFence()} throws. Thread-safe.
 */
public final class TestStream implements DeviceStream {
  private final Device device;
  private final String name;
  private final List<TestFence> recorded = new ArrayList<>();
  private final List<String> violations = new ArrayList<>();
  private long completed;
  private long polls;
  private boolean failPolls;
  private boolean failNextRecord;
  private @Nullable Runnable onPoll;

  public TestStream(Device device, String name) {
    this.device = device;
    this.name = name;
  }

  /** A fence recorded on this stream: complete once the stream's progress reaches it. */
  public final class TestFence implements Fence {
    final long seq;
    private int closes;

    TestFence(long seq) {
      this.seq = seq;
    }

    /** Its place on the stream: the first fence recorded is 1. */
    public long seq() {
      return seq;
    }

    @Override
    public boolean isComplete() {
      Runnable hook;
      synchronized (TestStream.this) {
        polls++;
        if (closes > 0) {
          violations.add(this + " polled after it was closed");
        }
        if (failPolls) {
          throw new IllegalStateException("stream " + name + " failed (polling " + this + ")");
        }
        hook = onPoll;
      }
      if (hook != null) {
        hook.run();
      }
      synchronized (TestStream.this) {
        return seq <= completed;
      }
    }

    @Override
    public void close() {
      synchronized (TestStream.this) {
        if (++closes > 1) {
          violations.add(this + " closed " + closes + " times");
        }
      }
    }

    /** Whether the stream's progress has reached this fence (without counting as a poll). */
    public boolean reached() {
      synchronized (TestStream.this) {
        return seq <= completed;
      }
    }

    public boolean isClosed() {
      synchronized (TestStream.this) {
        return closes > 0;
      }
    }

    @Override
    public String toString() {
      return name + "#" + seq;
    }
  }

  @Override
  public Device device() {
    return device;
  }

  @Override
  public synchronized TestFence recordFence() {
    if (failNextRecord) {
      failNextRecord = false;
      throw new IllegalStateException("stream " + name + " cannot record a fence");
    }
    TestFence f = new TestFence(recorded.size() + 1L);
    recorded.add(f);
    return f;
  }

  /** Completes every fence recorded so far, and none recorded later. */
  public synchronized void completeAll() {
    completed = recorded.size();
  }

  /** Completes the fences up to the {@code seq}-th recorded (the stream only moves forward). */
  public synchronized void completeUpTo(long seq) {
    completed = Math.max(completed, Math.min(seq, recorded.size()));
  }

  /** The fences recorded so far, oldest first. */
  public synchronized List<TestFence> recorded() {
    return new ArrayList<>(recorded);
  }

  /** The last fence recorded; fails if none was. */
  public synchronized TestFence last() {
    return recorded.get(recorded.size() - 1);
  }

  /** How many times the pool asked a fence of this stream whether it completed. */
  public synchronized long polls() {
    return polls;
  }

  /** Fences recorded and not yet closed. */
  public synchronized long openFences() {
    return recorded.stream().filter(f -> f.closes == 0).count();
  }

  /** What the pool did wrong with this stream's fences, if anything. */
  public synchronized List<String> violations() {
    return new ArrayList<>(violations);
  }

  /** From now on every poll of this stream's fences throws, as after a sticky device error. */
  public synchronized void failPolls() {
    failPolls = true;
  }

  /** The next {@link #recordFence()} throws. */
  public synchronized void failNextRecord() {
    failNextRecord = true;
  }

  /** Runs {@code hook} inside every poll, on the polling thread (to call back into the pool). */
  public synchronized void onPoll(@Nullable Runnable hook) {
    this.onPoll = hook;
  }

  @Override
  public String toString() {
    return "TestStream[" + name + "]";
  }
}
