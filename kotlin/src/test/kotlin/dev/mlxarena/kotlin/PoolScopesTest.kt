package dev.mlxarena.kotlin

import dev.mlxarena.Buffer
import dev.mlxarena.DType
import dev.mlxarena.spi.Device
import dev.mlxarena.spi.DeviceStream
import dev.mlxarena.Fence
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.seconds
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

class PoolScopesTest : HostPoolFixture() {
    private fun active(): Long = pool.stats().activeCount

    @Test
    fun scopeReturnsTheBlocksValueAndClosesWhenItReturns() {
        lateinit var kept: Buffer
        val value = pool.scope {
            kept = alloc(16, DType.F32)
            kept.f32[0] = 2.5f
            assertEquals(1L, active())
            kept.f32[0]
        }
        assertEquals(2.5f, value)
        assertEquals(0L, active())
        assertFalse(kept.isValid)
    }

    @Test
    fun scopeClosesWhenTheBlockThrows() {
        lateinit var kept: Buffer
        val e = assertThrows<IllegalStateException> {
            pool.scope {
                kept = alloc(16, DType.U8)
                error("kernel failed")
            }
        }
        assertEquals("kernel failed", e.message)
        assertEquals(0L, active())
        assertFalse(kept.isValid)
    }

    @Test
    fun scopeClosesOnANonLocalReturn() {
        fun firstTokenAbove(limit: Int): Int {
            for (t in 0 until 100) {
                pool.scope {
                    alloc(64, DType.U8)
                    if (t * t > limit) return t
                }
            }
            return -1
        }
        assertEquals(4, firstTokenAbove(10))
        assertEquals(0L, active())
        assertEquals(5L, pool.stats().allocations)
    }

    @Test
    fun scopeOnAStreamClosesWithAFenceRecordedOnTheStream() {
        val recorded = AtomicInteger()
        val stream = object : DeviceStream {
            override fun device(): Device = device
            override fun recordFence(): Fence {
                recorded.incrementAndGet()
                return Fence.completed()
            }
        }
        val kept = pool.scope(stream) {
            assertTrue(stream === stream())
            alloc(64, DType.U8)
        }
        assertEquals(1, recorded.get())
        assertFalse(kept.isValid)
        assertEquals(0L, active())
    }

    @Test
    fun withScopeKeepsItsBuffersAcrossSuspensionsAndClosesAfter() = runTest {
        lateinit var kept: Buffer
        val value = pool.withScope {
            kept = alloc(8, DType.I32)
            kept.i32[1] = 7
            delay(10.seconds)
            kept.i32[1]
        }
        assertEquals(7, value)
        assertEquals(0L, active())
        assertFalse(kept.isValid)
    }

    @Test
    fun withScopeClosesWhenTheCoroutineIsCancelled() = runTest {
        val allocated = CompletableDeferred<Buffer>()
        val job = launch {
            pool.withScope {
                allocated.complete(alloc(64, DType.U8))
                awaitCancellation()
            }
        }
        val buffer = allocated.await()
        assertEquals(1L, active())
        job.cancelAndJoin()
        assertTrue(job.isCancelled)
        assertEquals(0L, active())
        assertFalse(buffer.isValid)
    }

    @Test
    fun withScopeClosesWhenTheBlockThrows() = runTest {
        lateinit var kept: Buffer
        val failure = runCatching {
            pool.withScope {
                kept = alloc(64, DType.U8)
                delay(1.seconds)
                throw IllegalArgumentException("bad shape")
            }
        }.exceptionOrNull()
        assertEquals("bad shape", failure?.message)
        assertEquals(0L, active())
        assertFalse(kept.isValid)
    }
}
