package dev.mlxarena.kotlin

import dev.mlxarena.Buffer
import dev.mlxarena.DType
import dev.mlxarena.Fence
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.launch
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

// advanceTimeBy and runCurrent drive the virtual clock that the fence polls run on.
@OptIn(ExperimentalCoroutinesApi::class)
class FencesTest : HostPoolFixture() {
    /** Completes when the test says so; counts its closes. */
    private class FlagFence : Fence {
        @Volatile
        var done = false
        val closes = AtomicInteger()

        override fun isComplete(): Boolean = done

        override fun close() {
            closes.incrementAndGet()
        }
    }

    @Test
    fun awaitSuspendsUntilTheFenceCompletesAndLeavesItOpen() = runTest {
        val fence = FlagFence()
        val waiter = launch { fence.await(5.milliseconds) }
        advanceTimeBy(50.milliseconds)
        runCurrent()
        assertTrue(waiter.isActive, "still waiting for the device")
        fence.done = true
        advanceTimeBy(5.milliseconds)
        runCurrent()
        assertTrue(waiter.isCompleted, "the next poll saw the fence complete")
        assertEquals(0, fence.closes.get(), "the caller still owns the fence")
    }

    @Test
    fun aCancelledAwaitStopsPollingAndLeavesTheFenceAlone() = runTest {
        val fence = FlagFence()
        val waiter = launch { fence.await() }
        runCurrent()
        waiter.cancel()
        runCurrent()
        assertTrue(waiter.isCancelled)
        assertEquals(0, fence.closes.get())
    }

    @Test
    fun thePollIntervalMustBePositive() = runTest {
        val e = assertThrows<IllegalArgumentException> { Fence.completed().await(Duration.ZERO) }
        assertEquals("pollInterval must be positive, was 0s", e.message)
    }

    @Test
    fun scopeAwaitClosesTheFenceOnceItCompleted() = runTest {
        val fence = FlagFence()
        val job = launch {
            pool.withScope {
                alloc(64, DType.U8)
                await(fence)
            }
        }
        runCurrent()
        fence.done = true
        advanceTimeBy(DEFAULT_FENCE_POLL_INTERVAL)
        runCurrent()
        assertTrue(job.isCompleted)
        assertEquals(1, fence.closes.get())
        assertEquals(0L, pool.stats().activeCount)
        assertEquals(0L, pool.stats().deferredCount)
    }

    @Test
    fun aCancelledScopeAwaitKeepsTheBuffersFromReuseUntilTheFenceCompletes() = runTest {
        val fence = FlagFence()
        lateinit var buffer: Buffer
        val job = launch {
            pool.withScope {
                buffer = alloc(256, DType.U8)
                await(fence) // the kernels writing buffer are still running
            }
        }
        runCurrent()
        job.cancel()
        runCurrent()
        assertTrue(job.isCancelled)
        assertFalse(buffer.isValid, "the handles are stale at once")
        val stats = pool.stats()
        assertEquals(0L, stats.activeCount)
        assertEquals(1L, stats.deferredCount, "the memory waits for the fence, out of the free lists")
        assertEquals(256L, stats.deferredBytes)
        assertEquals(0, fence.closes.get())

        fence.done = true
        // An allocation that finds nothing free polls the waiting fences before it asks the device.
        pool.openScope().use { it.alloc(256, DType.U8) }
        assertEquals(0L, pool.stats().deferredCount)
        assertEquals(1L, pool.stats().cachedCount)
        assertEquals(1, fence.closes.get(), "the pool closed the fence it was handed")
    }
}
