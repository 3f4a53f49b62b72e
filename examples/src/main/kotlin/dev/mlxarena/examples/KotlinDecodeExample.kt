package dev.mlxarena.examples

import dev.mlxarena.BufferPool
import dev.mlxarena.DType
import dev.mlxarena.Devices
import dev.mlxarena.reactive.DecodeLoop
import dev.mlxarena.reactive.Step
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.reactive.asFlow
import kotlinx.coroutines.runBlocking

/**
 * The API from Kotlin: `use {}` closes scopes and pools, a Kotlin lambda is the decode step, and
 * the loop's Flux is collected as a Flow.
 */
object KotlinDecodeExample {
    data class State(val position: Int, val last: Int)

    @JvmStatic
    fun main(args: Array<String>) {
        println(run(8).joinToString(" "))
    }

    fun run(tokens: Long): List<Int> =
        Devices.systemDefault().use { device ->
            BufferPool.create(device).use { pool ->
                pool.openScope().use { scope ->
                    val probe = scope.alloc(16, DType.F32)
                    probe.putF32(0, 1f)
                    check(probe.getF32(0) == 1f)
                }
                val loop = DecodeLoop.builder<State, Int>(pool) { token, s ->
                    val logits = token.alloc(32L * 4, DType.F32, 32)
                    for (i in 0 until 32) logits.putF32(i.toLong(), ((i * 7 + s.last * 3) % 32).toFloat())
                    val next = (0 until 32).maxBy { logits.getF32(it.toLong()) }
                    Step.of(State(s.position + 1, next), next)
                }
                    .initialState(State(0, 1))
                    .maxTokens(tokens)
                    .build()
                val result = runBlocking { loop.run().asFlow().map { it }.toList() }
                check(pool.inUseCount() == 0) { "every token scope is closed" }
                result
            }
        }
}
