package dev.mlxarena.kotlin

import dev.mlxarena.Buffer

// Indexed views of a buffer's elements, for `logits.f32[i]` and `ids.i32[i] = v` with Int or Long
// indices: the two element types a decode step reads and writes on the host (scores, token ids).
// Each wraps the buffer without allocating (value classes) and goes through the buffer's own
// accessors, so the dtype, bounds and staleness checks are the buffer's. The other dtypes keep the
// Java accessors (getBF16, putI64, ...).

/** This buffer's elements as F32 values; the buffer must be of [dev.mlxarena.DType.F32]. */
public val Buffer.f32: F32Elements get() = F32Elements(this)

/** This buffer's elements as I32 values; the buffer must be of I32. */
public val Buffer.i32: I32Elements get() = I32Elements(this)

/** F32 elements of a [Buffer]; see [f32]. */
@JvmInline
public value class F32Elements(public val buffer: Buffer) {
    /** The number of elements. */
    public val size: Long get() = buffer.elementCount()
    public operator fun get(index: Long): Float = buffer.getF32(index)
    public operator fun get(index: Int): Float = buffer.getF32(index.toLong())
    public operator fun set(index: Long, value: Float): Unit = buffer.putF32(index, value)
    public operator fun set(index: Int, value: Float): Unit = buffer.putF32(index.toLong(), value)
}

/** I32 elements of a [Buffer]; see [i32]. */
@JvmInline
public value class I32Elements(public val buffer: Buffer) {
    /** The number of elements. */
    public val size: Long get() = buffer.elementCount()
    public operator fun get(index: Long): Int = buffer.getI32(index)
    public operator fun get(index: Int): Int = buffer.getI32(index.toLong())
    public operator fun set(index: Long, value: Int): Unit = buffer.putI32(index, value)
    public operator fun set(index: Int, value: Int): Unit = buffer.putI32(index.toLong(), value)
}
