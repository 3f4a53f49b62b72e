package dev.mlxarena.cuda;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import dev.mlxarena.Buffer;
import dev.mlxarena.DType;
import dev.mlxarena.DeviceUnavailableException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * One rank of an NCCL communicator: the GPU it runs on, its rank and the communicator's size, its
 * collectives ({@link #allReduce}), and the device buffers registered with it ({@link #register}).
 *
 * <pre>{@code
 * List<CudaDevice> gpus = List.of(CudaDevice.open(0), CudaDevice.open(1));
 * List<NcclComm> comms = NcclComm.initAll(gpus);            // one rank per GPU, in this process
 * // on rank r's own thread, in stream order with its kernels:
 * comms.get(r).allReduce(x, NcclOp.SUM, streams.get(r));   // x: the same shape on every rank
 * }</pre>
 *
 * <h2>Threads</h2>
 * NCCL's collectives may wait on the host for the other ranks to reach the same call, so the ranks
 * of one communicator are driven either by one thread each (the usual way, as here) or from one
 * thread inside {@link Nccl#group}. A rank's collectives are enqueued on a {@link CudaStream} of
 * its own GPU and return once enqueued.
 *
 * <h2>Registered buffers</h2>
 * {@code ncclCommRegister} lets NCCL work on a buffer in place instead of staging it through its
 * own memory. It costs a lookup of the allocation and a record in the communicator, so a buffer is
 * registered once and stays registered while it lives: {@link #register} gives a {@link
 * Registration} to {@link #deregister} before the memory is freed. NCCL requires that either every
 * rank passes registered buffers to a collective or none does. The communicator counts its live
 * registrations and refuses to close while any remain ({@link #close}). Registration needs NCCL
 * 2.19 or later.
 *
 * <p>Thread-safe, except that a rank's collectives come from one thread at a time.
 */
public final class NcclComm implements AutoCloseable {
  private final Pointer comm;
  private final long handle;
  private final CudaDevice device;
  private final int rank;
  private final int size;
  /** Guarded by this. */
  private int liveRegistrations;
  /** Guarded by this. */
  private long registrations;
  /** Guarded by this; volatile for the collectives' check. */
  private volatile boolean closed;

  private NcclComm(Pointer comm, CudaDevice device) {
    this.comm = comm;
    this.handle = Pointer.nativeValue(comm);
    this.device = device;
    NcclNative.Api api = Nccl.api();
    IntByReference v = new IntByReference();
    Nccl.check(api.ncclCommUserRank(comm, v), "ncclCommUserRank", comm, "");
    this.rank = v.getValue();
    Nccl.check(api.ncclCommCount(comm, v), "ncclCommCount", comm, "");
    this.size = v.getValue();
    Nccl.check(api.ncclCommCuDevice(comm, v), "ncclCommCuDevice", comm, "");
    if (v.getValue() != device.ordinal()) {
      throw new IllegalStateException("NCCL put rank " + rank + " on CUDA device " + v.getValue() + ", not on "
          + device);
    }
  }

  /**
   * A communicator over {@code devices}, rank {@code i} on {@code devices.get(i)}, made at once
   * from this thread ({@code ncclCommInitAll}).
   *
   * @throws IllegalArgumentException if {@code devices} is empty or names a GPU twice
   * @throws DeviceUnavailableException if NCCL cannot be loaded
   * @throws NcclException if NCCL refuses
   */
  public static List<NcclComm> initAll(List<CudaDevice> devices) {
    int[] ordinals = ordinals(devices);
    NcclNative.Api api = Nccl.api();
    Memory comms = new Memory(8L * devices.size());
    comms.clear();
    devices.get(0).makeCurrent();
    int rc;
    try {
      rc = api.ncclCommInitAll(comms, devices.size(), ordinals);
    } finally {
      CudaDevice.forgetCurrent();
    }
    Nccl.check(rc, "ncclCommInitAll", null, describe(ordinals));
    Pointer[] made = new Pointer[devices.size()];
    for (int i = 0; i < made.length; i++) {
      made[i] = comms.getPointer(8L * i);
    }
    return wrap(made, devices);
  }

  /**
   * A communicator over {@code devices} made rank by rank with {@code ncclCommInitRank} inside one
   * group, from this thread, from the unique id {@code id} ({@link Nccl#uniqueId()}): the way a
   * communicator whose other ranks live in other processes is made, here with all of them in
   * this one.
   *
   * @throws IllegalArgumentException if {@code devices} is empty or names a GPU twice
   * @throws NcclException if NCCL refuses
   */
  public static List<NcclComm> initRanks(List<CudaDevice> devices, NcclUniqueId id) {
    int[] ordinals = ordinals(devices);
    NcclNative.Api api = Nccl.api();
    NcclNative.UniqueId.ByValue value = id.byValue();
    PointerByReference[] refs = new PointerByReference[devices.size()];
    try {
      Nccl.group(() -> {
        for (int i = 0; i < refs.length; i++) {
          refs[i] = new PointerByReference();
          devices.get(i).makeCurrent();
          Nccl.check(api.ncclCommInitRank(refs[i], refs.length, value, i), "ncclCommInitRank", null,
              "rank " + i + " of " + describe(ordinals));
        }
      });
    } catch (RuntimeException e) {
      for (PointerByReference r : refs) {
        if (r != null && r.getValue() != null) {
          api.ncclCommDestroy(r.getValue());
        }
      }
      throw e;
    } finally {
      CudaDevice.forgetCurrent();
    }
    Pointer[] made = new Pointer[refs.length];
    for (int i = 0; i < made.length; i++) {
      made[i] = refs[i].getValue();
    }
    return wrap(made, devices);
  }

  private static List<NcclComm> wrap(Pointer[] made, List<CudaDevice> devices) {
    List<NcclComm> out = new ArrayList<>();
    try {
      for (int i = 0; i < made.length; i++) {
        out.add(new NcclComm(made[i], devices.get(i)));
      }
    } catch (RuntimeException e) {
      for (int i = out.size(); i < made.length; i++) {
        Nccl.api().ncclCommDestroy(made[i]);
      }
      for (NcclComm c : out) {
        try {
          c.close();
        } catch (RuntimeException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
    return List.copyOf(out);
  }

  private static int[] ordinals(List<CudaDevice> devices) {
    if (devices.isEmpty()) {
      throw new IllegalArgumentException("a communicator needs at least one GPU");
    }
    Set<Integer> seen = new HashSet<>();
    int[] ordinals = new int[devices.size()];
    for (int i = 0; i < ordinals.length; i++) {
      ordinals[i] = Objects.requireNonNull(devices.get(i), "devices").ordinal();
      if (!seen.add(ordinals[i])) {
        throw new IllegalArgumentException("GPU " + ordinals[i] + " appears twice in " + devices
            + ": one rank per GPU");
      }
    }
    return ordinals;
  }

  private static String describe(int[] ordinals) {
    return ordinals.length + " GPU" + (ordinals.length == 1 ? "" : "s") + " " + Arrays.toString(ordinals);
  }

  /** This rank's GPU. */
  public CudaDevice device() {
    return device;
  }

  /** This rank, from 0. */
  public int rank() {
    return rank;
  }

  /** The number of ranks. */
  public int size() {
    return size;
  }

  /**
   * Enqueues an all-reduce on {@code stream}: every rank's {@code count} elements at {@code send}
   * are reduced with {@code op} and the result written to {@code recv} on every rank ({@code send
   * == recv}: in place). Every rank must make the same call, in the same order.
   *
   * @throws IllegalArgumentException if {@code stream} is on another GPU
   * @throws NcclException if NCCL refuses
   */
  public void allReduce(long send, long recv, long count, DType dtype, NcclOp op, CudaStream stream) {
    allReduce(send, recv, count, Nccl.dataType(dtype), op.code, stream, dtype.shortName());
  }

  /** {@link #allReduce(long, long, long, DType, NcclOp, CudaStream)} in place over a whole buffer. */
  public void allReduce(Buffer buffer, NcclOp op, CudaStream stream) {
    long at = buffer.nativeHandle() + buffer.byteOffset();
    allReduce(at, at, buffer.byteLength() / buffer.dtype().byteSize(), buffer.dtype(), op, stream);
  }

  /** The all-reduce with NCCL's own codes for the type and the reduction (tests reach refusals through it). */
  void allReduce(long send, long recv, long count, int dataType, int op, CudaStream stream, String typeName) {
    if (stream.device() != device) {
      throw new IllegalArgumentException(stream + " is not on rank " + rank + "'s GPU, " + device);
    }
    requireOpen();
    device.makeCurrent();
    int rc = NcclNative.ncclAllReduce(send, recv, count, dataType, op, handle, stream.handle());
    if (rc != NcclNative.NCCL_SUCCESS) {
      throw Nccl.failure(rc, "ncclAllReduce", comm, count + " elements of " + typeName + " on rank " + rank + " of "
          + size);
    }
  }

  /**
   * Registers {@code bytes} of device memory at {@code devicePointer} (of this rank's GPU) with the
   * communicator ({@code ncclCommRegister}). NCCL may decline (for example with {@code
   * NCCL_LOCAL_REGISTER=0}); the registration is then empty but still to be deregistered.
   *
   * @throws NcclException if NCCL refuses, or has no {@code ncclCommRegister} (before 2.19)
   */
  public Registration register(long devicePointer, long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("cannot register " + bytes + " bytes");
    }
    PointerByReference h = new PointerByReference();
    synchronized (this) {
      requireOpen();
      device.makeCurrent();
      int rc;
      try {
        rc = Nccl.api().ncclCommRegister(comm, devicePointer, bytes, h);
      } catch (UnsatisfiedLinkError e) {
        throw new NcclException("ncclCommRegister", NcclNative.NCCL_INVALID_ARGUMENT,
            "not in NCCL " + Nccl.versionString() + " (buffer registration needs 2.19 or later)", null, "");
      }
      if (rc != NcclNative.NCCL_SUCCESS) {
        throw Nccl.failure(rc, "ncclCommRegister", comm, bytes + " bytes at 0x" + Long.toHexString(devicePointer)
            + " on rank " + rank);
      }
      liveRegistrations++;
      registrations++;
    }
    return new Registration(this, devicePointer, bytes, h.getValue());
  }

  /**
   * Deregisters what {@link #register} registered ({@code ncclCommDeregister}). After {@link
   * #abort} NCCL has dropped every registration itself, so this only marks it ended.
   *
   * @throws IllegalArgumentException if {@code r} belongs to another communicator
   * @throws IllegalStateException if {@code r} was deregistered already
   */
  public void deregister(Registration r) {
    if (r.comm != this) {
      throw new IllegalArgumentException(r + " was not made by " + this);
    }
    synchronized (this) {
      if (!r.live) {
        throw new IllegalStateException(r + " is deregistered already");
      }
      r.live = false;
      liveRegistrations--;
      if (closed) {
        return;
      }
      device.makeCurrent();
      Nccl.check(Nccl.api().ncclCommDeregister(comm, r.handle), "ncclCommDeregister", comm,
          r.bytes + " bytes at 0x" + Long.toHexString(r.pointer) + " on rank " + rank);
    }
  }

  /** Registrations made and not yet deregistered. */
  public synchronized int liveRegistrations() {
    return liveRegistrations;
  }

  /** Registrations made in total. */
  public synchronized long registrations() {
    return registrations;
  }

  /**
   * Throws the error NCCL met asynchronously on this communicator, if any ({@code
   * ncclCommGetAsyncError}): a failed collective surfaces here, or as a failing stream.
   */
  public void checkAsyncError() {
    requireOpen();
    IntByReference error = new IntByReference();
    Nccl.check(Nccl.api().ncclCommGetAsyncError(comm, error), "ncclCommGetAsyncError", comm, "");
    Nccl.check(error.getValue(), "a collective (asynchronous error)", comm, "rank " + rank + " of " + size);
  }

  /**
   * Aborts the communicator ({@code ncclCommAbort}): collectives still running or waiting for other
   * ranks on the GPU end, and its resources are freed with its registrations. For when a rank has
   * failed and the others would wait for it forever. Idempotent with {@link #close}.
   */
  public void abort() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    device.makeCurrent();
    Nccl.check(Nccl.api().ncclCommAbort(comm), "ncclCommAbort", null, this.toString());
  }

  /**
   * Destroys the communicator ({@code ncclCommDestroy}) once the work enqueued on it has finished.
   * Idempotent.
   *
   * @throws IllegalStateException while buffers are still registered with it (close the pools that
   *     registered them first); the communicator stays open
   */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      if (liveRegistrations > 0) {
        throw new IllegalStateException(this + " still has " + liveRegistrations + " registered buffer"
            + (liveRegistrations == 1 ? "" : "s") + ": deregister them first (close the pools whose registrar it is)");
      }
      closed = true;
    }
    device.makeCurrent();
    Nccl.check(Nccl.api().ncclCommDestroy(comm), "ncclCommDestroy", null, this.toString());
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException(this + " is closed");
    }
  }

  @Override
  public String toString() {
    return "NcclComm[rank " + rank + " of " + size + " on GPU " + device.ordinal() + "]";
  }

  /** A buffer registered with a communicator: give it back to {@link NcclComm#deregister}. */
  public static final class Registration {
    private final NcclComm comm;
    private final long pointer;
    private final long bytes;
    private final @Nullable Pointer handle;
    /** Guarded by {@code comm}. */
    private boolean live = true;

    private Registration(NcclComm comm, long pointer, long bytes, @Nullable Pointer handle) {
      this.comm = comm;
      this.pointer = pointer;
      this.bytes = bytes;
      this.handle = handle;
    }

    /** The device pointer registered. */
    public long pointer() {
      return pointer;
    }

    /** The bytes registered. */
    public long bytes() {
      return bytes;
    }

    /** Whether NCCL made a record of it (false where it declined, for example with {@code NCCL_LOCAL_REGISTER=0}). */
    public boolean isRecorded() {
      return handle != null;
    }

    @Override
    public String toString() {
      return "registration of " + bytes + " bytes at 0x" + Long.toHexString(pointer) + " with " + comm;
    }
  }
}
