package dev.mlxarena.examples

import dev.mlxarena.BufferPool
import dev.mlxarena.DType
import dev.mlxarena.Devices
import dev.mlxarena.reactive.DecodeLoop
import dev.mlxarena.reactive.Step
import dev.mlxarena.spi.Device
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.reactive.asFlow
import kotlinx.coroutines.runBlocking

/**
 * The API from Kotlin: `use {}` closes scopes and pools, a Kotlin lambda is the decode step, and
 * the loop's Flux is collected as a Flow. Data crosses to and from the buffers through the bulk
 * copies (`copyFrom`, `copyTo`), which work on every device, device-private GPU memory included.
 */
object KotlinDecodeExample {
    data class State(val position: Int, val last: Int)

    @JvmStatic
    fun main(args: Array<String>) {
        Devices.systemDefault().use { device -> println(run(device, 8).joinToString(" ")) }
    }

    /** Generates [tokens] tokens on [device], which stays open. */
    @JvmStatic
    fun run(device: Device, tokens: Long): List<Int> =
        BufferPool.create(device).use { pool ->
            pool.openScope().use { scope ->
                val probe = scope.alloc(16, DType.F32)
                probe.copyFrom(floatArrayOf(1f))
                check(FloatArray(1).also(probe::copyTo)[0] == 1f)
            }
            val loop = DecodeLoop.builder<State, Int>(pool) { token, s ->
                val logits = token.alloc(32L * 4, DType.F32, 32)
                // A kernel would write the logits on the device; the host stands in for it.
                logits.copyFrom(FloatArray(32) { i -> ((i * 7 + s.last * 3) % 32).toFloat() })
                val host = FloatArray(32).also(logits::copyTo)
                val next = host.indices.maxBy { host[it] }
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
