package dev.mlxarena.kotlin

import dev.mlxarena.DType
import dev.mlxarena.reactive.DecodeLoop
import dev.mlxarena.reactive.Step
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import reactor.core.scheduler.Schedulers

class DecodeFlowsTest : HostPoolFixture() {
    /** A loop whose session holds a KV cache and whose every step allocates scratch. */
    private fun loop(steps: AtomicInteger, maxTokens: Long = Long.MAX_VALUE): DecodeLoop<Int, Int> =
        DecodeLoop.builder<Int, Int>(pool) { token, s ->
            steps.incrementAndGet()
            token.alloc(64, DType.U8)
            Step.of(s + 1, s * 10)
        }
            .initialState { session ->
                session.scope().alloc(1024, DType.F16)
                0
            }
            .maxTokens(maxTokens)
            .build()

    @Test
    fun asFlowEmitsTheTokensAndLeavesNothingAllocated() = runTest {
        val steps = AtomicInteger()
        assertEquals(listOf(0, 10, 20, 30, 40), loop(steps, maxTokens = 5).asFlow().toList())
        assertEquals(5, steps.get())
        assertEquals(0L, pool.stats().activeCount)
    }

    @Test
    fun takeRunsExactlyThatManyStepsThenCancelsTheLoop() = runTest {
        val steps = AtomicInteger()
        assertEquals(listOf(0, 10, 20), loop(steps).asFlow().take(3).toList())
        assertEquals(3, steps.get(), "one step per collected token, none ahead")
        assertEquals(0L, pool.stats().activeCount, "the cancel closed the session and its KV cache")
    }

    @Test
    fun eventFlowCarriesIndicesAndPerTokenStatistics() = runTest {
        val events = loop(AtomicInteger(), maxTokens = 3).eventFlow().toList()
        assertEquals(listOf(0L, 1L, 2L), events.map { it.index })
        assertEquals(listOf(0, 10, 20), events.map { it.token })
        assertEquals(1L, events.last().poolDelta.reuseHits, "token 2 reuses token 1's scratch")
        assertEquals(0L, pool.stats().activeCount)
    }

    @Test
    fun cancellingTheCollectorMidStepLetsTheStepFinishThenClosesEverything() = runTest {
        val executor = Executors.newSingleThreadExecutor()
        val entered = CompletableDeferred<Unit>()
        val release = CountDownLatch(1)
        val loop = DecodeLoop.builder<Int, Int>(pool) { token, s ->
            token.alloc(64, DType.U8)
            entered.complete(Unit)
            release.await()
            Step.of(s + 1, s)
        }
            .initialState(0)
            .scheduler(Schedulers.fromExecutorService(executor))
            .build()

        val collector = launch { loop.asFlow().collect {} }
        entered.await()
        collector.cancelAndJoin()
        assertEquals(1L, pool.stats().activeCount, "the running step's scratch is not recycled under it")

        release.countDown()
        executor.shutdown()
        assertTrue(executor.awaitTermination(30, TimeUnit.SECONDS), "the step thread finished")
        assertEquals(0L, pool.stats().activeCount, "the step's scope and the session closed after it")
    }
}
