package dev.mlxarena;

/**
 * Element types a {@link Buffer} can hold, with their size in bytes.
 *
 * <p>The short names follow the usual tensor-library spelling ({@code f32}, {@code bf16}, ...).
 */
public enum DType {
  /** 32-bit IEEE float. */
  F32(4, "f32"),
  /** 16-bit IEEE float (half). */
  F16(2, "f16"),
  /** 16-bit brain float: the upper half of an F32. */
  BF16(2, "bf16"),
  /** Unsigned 8-bit integer. */
  U8(1, "u8"),
  /** Unsigned 16-bit integer. */
  U16(2, "u16"),
  /** Unsigned 32-bit integer. */
  U32(4, "u32"),
  /** Signed 32-bit integer. */
  I32(4, "i32"),
  /** Signed 8-bit integer. */
  I8(1, "i8"),
  /** Signed 64-bit integer. */
  I64(8, "i64"),
  /** 64-bit IEEE float. */
  F64(8, "f64");

  private final int byteSize;
  private final int sizeShift;
  private final String shortName;

  DType(int byteSize, String shortName) {
    this.byteSize = byteSize;
    this.sizeShift = Integer.numberOfTrailingZeros(byteSize);
    this.shortName = shortName;
  }

  /** log2 of the element size: every size is a power of two, so counts divide by shifting. */
  int sizeShift() {
    return sizeShift;
  }

  /** The size of one element in bytes. */
  public int byteSize() {
    return byteSize;
  }

  /** The conventional short name, for example {@code "f32"}. */
  public String shortName() {
    return shortName;
  }
}
