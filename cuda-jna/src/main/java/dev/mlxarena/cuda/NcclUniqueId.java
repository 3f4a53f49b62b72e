package dev.mlxarena.cuda;

import java.util.Arrays;

/**
 * The 128 bytes that name one communicator being made ({@code ncclUniqueId}): made once by {@link
 * Nccl#uniqueId()} and given to every rank's {@link NcclComm#initRanks}. Immutable.
 */
public final class NcclUniqueId {
  private final byte[] bytes;

  NcclUniqueId(byte[] bytes) {
    if (bytes.length != NcclNative.NCCL_UNIQUE_ID_BYTES) {
      throw new IllegalArgumentException("an NCCL unique id has " + NcclNative.NCCL_UNIQUE_ID_BYTES
          + " bytes, not " + bytes.length);
    }
    this.bytes = bytes.clone();
  }

  /** The id's bytes (a copy), to send to ranks in other processes. */
  public byte[] bytes() {
    return bytes.clone();
  }

  /** The id from bytes another process made with {@link #bytes()}. */
  public static NcclUniqueId of(byte[] bytes) {
    return new NcclUniqueId(bytes);
  }

  NcclNative.UniqueId.ByValue byValue() {
    NcclNative.UniqueId.ByValue v = new NcclNative.UniqueId.ByValue();
    System.arraycopy(bytes, 0, v.internal, 0, bytes.length);
    return v;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof NcclUniqueId && Arrays.equals(bytes, ((NcclUniqueId) o).bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("NcclUniqueId[");
    for (int i = 0; i < 8; i++) {
      s.append(String.format("%02x", bytes[i] & 0xff));
    }
    return s.append("...]").toString();
  }
}
