package dev.mlxarena.metal;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import org.jspecify.annotations.Nullable;

/**
 * Zero fills and host copies of one device's buffers, through the shim, cut to Apple's blit rule
 * on private storage.
 *
 * <p>On macOS a blit fill's range ({@code -fillBuffer:range:value:}) and a buffer copy's offsets
 * and size ({@code -copyFromBuffer:sourceOffset:toBuffer:destinationOffset:size:}) must be
 * multiples of 4 bytes, and the shim refuses anything else on private storage. So a range
 * {@code [offset, offset + length)} is cut into an aligned middle, moved by one blit, and at most
 * two partial 4-byte words at its ends. A partial word is read whole, patched on the host and,
 * for fills and writes, written back whole. The shim allocates private buffers rounded up to whole
 * words ({@link MetalBuffer#allocated}), so the word that holds a buffer's last byte is always
 * inside the allocation. Shared storage is copied by the CPU and needs no cutting.
 *
 * <p>Two disjoint ranges of one buffer can only meet inside such a partial word, so a patch holds
 * the buffer's monitor from its read to its write: concurrent writes of neighbouring bytes never
 * undo each other. Callers check the range against the buffer's capacity first.
 */
final class Transfers {
  /** {@code MLXSHIM_BLIT_ALIGNMENT}: the blit alignment Metal requires on macOS. */
  static final int WORD = 4;

  private final ShimLibrary shim;
  private final Pointer device;

  Transfers(ShimLibrary shim, Pointer device) {
    this.shim = shim;
    this.device = device;
  }

  /** Sets {@code [offset, offset + length)} of {@code b} to zero. */
  void fillZero(MetalBuffer b, long offset, long length) {
    if (b.storage == StorageMode.SHARED) {
      fillWords(b, offset, length);
      return;
    }
    cut(offset, length, (from, to, whole) -> {
      if (whole) {
        fillWords(b, from, to - from);
      } else {
        patch(b, from, to, null, 0);
      }
    });
  }

  /** Copies {@code length} bytes from host memory at {@code src} into {@code b} at {@code offset}. */
  void write(MetalBuffer b, long offset, Pointer src, long length) {
    if (b.storage == StorageMode.SHARED) {
      writeWords(b, offset, src, length);
      return;
    }
    cut(offset, length, (from, to, whole) -> {
      if (whole) {
        writeWords(b, from, src.share(from - offset), to - from);
      } else {
        patch(b, from, to, src, from - offset);
      }
    });
  }

  /** Copies {@code length} bytes of {@code b} at {@code offset} to host memory at {@code dst}. */
  void read(MetalBuffer b, long offset, Pointer dst, long length) {
    if (b.storage == StorageMode.SHARED) {
      readWords(b, offset, dst, length);
      return;
    }
    cut(offset, length, (from, to, whole) -> {
      if (whole) {
        readWords(b, from, dst.share(from - offset), to - from);
      } else {
        long word = alignDown(from);
        Memory w = new Memory(WORD);
        readWords(b, word, w, WORD);
        int n = (int) (to - from);
        dst.write(from - offset, w.getByteArray(from - word, n), 0, n);
      }
    });
  }

  /** One piece of a cut range: {@code [from, to)}, a run of whole words or part of one word. */
  interface Piece {
    void run(long from, long to, boolean whole);
  }

  /** Cuts {@code [offset, offset + length)} into a partial head word, whole words, a partial tail word. */
  static void cut(long offset, long length, Piece piece) {
    long end = offset + length;
    long first = alignUp(offset);
    long last = alignDown(end);
    if (first > last) {
      piece.run(offset, end, false); // inside one word
      return;
    }
    if (offset < first) {
      piece.run(offset, first, false);
    }
    if (first < last) {
      piece.run(first, last, true);
    }
    if (last < end) {
      piece.run(last, end, false);
    }
  }

  static long alignDown(long x) {
    return x & -WORD;
  }

  static long alignUp(long x) {
    return alignDown(x + WORD - 1);
  }

  /**
   * Replaces bytes {@code [from, to)}, inside one word, with zeros ({@code src == null}) or with
   * bytes of {@code src} from {@code srcOffset}: the whole word is read and written back.
   */
  private void patch(MetalBuffer b, long from, long to, @Nullable Pointer src, long srcOffset) {
    long word = alignDown(from);
    int at = (int) (from - word);
    int n = (int) (to - from);
    Memory w = new Memory(WORD);
    synchronized (b) {
      readWords(b, word, w, WORD);
      if (src == null) {
        w.setMemory(at, n, (byte) 0);
      } else {
        w.write(at, src.getByteArray(srcOffset, n), 0, n);
      }
      writeWords(b, word, w, WORD);
    }
  }

  private void fillWords(MetalBuffer b, long offset, long length) {
    byte[] err = new byte[MetalDevice.ERR_CAP];
    if (shim.mlxshim_buffer_fill_zero(device, b.handle, offset, length, err, err.length) != 0) {
      throw failed("zero-fill of", b, offset, length, err);
    }
  }

  private void writeWords(MetalBuffer b, long offset, Pointer src, long length) {
    byte[] err = new byte[MetalDevice.ERR_CAP];
    if (shim.mlxshim_buffer_write(device, b.handle, offset, src, length, err, err.length) != 0) {
      throw failed("write to", b, offset, length, err);
    }
  }

  private void readWords(MetalBuffer b, long offset, Pointer dst, long length) {
    byte[] err = new byte[MetalDevice.ERR_CAP];
    if (shim.mlxshim_buffer_read(device, b.handle, offset, dst, length, err, err.length) != 0) {
      throw failed("read from", b, offset, length, err);
    }
  }

  private static IllegalStateException failed(
      String what, MetalBuffer b, long offset, long length, byte[] err) {
    return new IllegalStateException(
        what + " " + b + " at [" + offset + ", +" + length + ") failed: " + MetalDevice.message(err));
  }
}
