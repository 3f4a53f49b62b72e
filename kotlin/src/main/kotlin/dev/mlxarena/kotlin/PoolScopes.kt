package dev.mlxarena.kotlin

import dev.mlxarena.BufferPool
import dev.mlxarena.Scope
import dev.mlxarena.spi.DeviceStream
import kotlin.contracts.ExperimentalContracts
import kotlin.contracts.InvocationKind
import kotlin.contracts.contract

/**
 * Runs [block] in a fresh scope of this pool and closes the scope however the block ends: on
 * return, on an exception, on a non-local `return` or `break` out of the block, and on coroutine
 * cancellation when the block suspends. Returns what the block returns; that value must not be one
 * of the scope's buffers, which are stale once this returns.
 *
 * ```
 * val next = pool.scope {
 *     val logits = alloc(vocab * 4L, DType.F32, vocab)
 *     model.forward(state, logits)
 * }
 * ```
 *
 * With a [stream], the scope is opened on it ([BufferPool.openScope]): closing records a fence on
 * the stream, so the buffers are reused in stream order and never while kernels enqueued before
 * the close may still read them, whichever way the block ended.
 */
@OptIn(ExperimentalContracts::class)
public inline fun <R> BufferPool.scope(stream: DeviceStream? = null, block: Scope.() -> R): R {
    contract { callsInPlace(block, InvocationKind.EXACTLY_ONCE) }
    val scope = if (stream == null) openScope() else openScope(stream)
    return scope.use(block)
}

/**
 * The suspending form of [scope], for a block held as a `suspend` value: opens a scope, runs the
 * block, and closes the scope when the block returns, throws, or is cancelled.
 *
 * Cancellation closes the scope at once, and the device may still be running kernels that read its
 * buffers. Wait for that work with [Scope.await], which hands the scope back after the work's fence
 * when it is cancelled, or open the scope on the work's [stream].
 */
public suspend fun <R> BufferPool.withScope(
    stream: DeviceStream? = null,
    block: suspend Scope.() -> R,
): R = scope(stream) { block() }
