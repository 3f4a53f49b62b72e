package dev.mlxarena.kotlin

import dev.mlxarena.DType
import dev.mlxarena.StaleBufferException
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

class BufferElementsTest : HostPoolFixture() {
    @Test
    fun f32AndI32ElementsReadAndWriteWithIntAndLongIndices() = pool.scope {
        val logits = alloc(4 * 4L, DType.F32, 4)
        for (i in 0 until 4) logits.f32[i] = i * 1.5f
        logits.f32[3L] = -1f
        assertEquals(4L, logits.f32.size)
        assertEquals(listOf(0f, 1.5f, 3f, -1f), (0 until 4).map { logits.f32[it] })
        assertEquals(1.5f, logits.getF32(1))

        val ids = alloc(3 * 4L, DType.I32, 3)
        ids.i32[2] = 42
        ids.i32[0L] = 7
        assertEquals(42, ids.i32[2L])
        assertEquals(7, ids.getI32(0))
        assertEquals(3L, ids.i32.size)
    }

    @Test
    fun theBuffersOwnChecksApply() {
        val stale = pool.scope {
            val b = alloc(16, DType.F32)
            val e = assertThrows<IllegalArgumentException> { b.i32[0] }
            assertEquals("element access as I32 on a buffer of F32", e.message)
            assertThrows<IndexOutOfBoundsException> { b.f32[4] = 1f }
            b
        }
        assertThrows<StaleBufferException> { stale.f32[0] }
    }
}
