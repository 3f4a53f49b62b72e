package dev.mlxarena.reactive

import dev.mlxarena.BufferPool
import dev.mlxarena.DType
import dev.mlxarena.host.HostDevice
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.reactive.asFlow
import kotlinx.coroutines.reactor.awaitSingleOrNull
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Test

/** The Java API as Kotlin sees it: strict nullness, `use {}`, SAM lambdas, properties, Flow. */
class KotlinDecodeLoopTest {
    @Test
    fun scopesCloseWithUseAndLoopsCollectAsFlows() {
        HostDevice.create().use { device ->
            BufferPool.create(device).use { pool ->
                val kept = pool.openScope().use { scope ->
                    val b = scope.alloc(16, DType.F32)
                    b.putF32(0, 1.5f)
                    assertEquals(1.5f, b.getF32(0))
                    b
                }
                assertFalse(kept.isValid)

                val loop = DecodeLoop.builder<Int, Int>(pool) { token, state ->
                    token.alloc(64, DType.U8)
                    Step.of(state + 1, state * 2)
                }
                    .initialState(0)
                    .maxTokens(4)
                    .build()
                val tokens: List<Int> = runBlocking { loop.run().asFlow().toList() }
                assertEquals(listOf(0, 2, 4, 6), tokens)

                val events = runBlocking { loop.events().asFlow().toList() }
                assertEquals(3L, events.last().index)
                assertEquals(1L, events.last().poolDelta.reuseHits)
                assertEquals(0, pool.inUseCount())
                assertEquals(0L, pool.stats().activeBytes)

                // A flow cut short cancels the loop; whenClosed says when its cleanup is done.
                val endless = DecodeLoop.builder<Int, Int>(pool) { token, state ->
                    token.alloc(64, DType.U8)
                    Step.of(state + 1, state)
                }
                    .initialState { session -> session.scope().alloc(16, DType.F32); 0 }
                    .build()
                val run = endless.newRun()
                val firstThree = runBlocking {
                    val tokens = run.flux().asFlow().take(3).toList()
                    run.whenClosed().awaitSingleOrNull()
                    tokens
                }
                assertEquals(listOf(0, 1, 2), firstThree)
                assertEquals(0, pool.inUseCount(), "the session scope closed too")
            }
        }
    }
}
