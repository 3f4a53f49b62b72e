package dev.mlxarena.kotlin

import dev.mlxarena.Fence
import dev.mlxarena.Scope
import kotlin.coroutines.cancellation.CancellationException
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlinx.coroutines.delay

/**
 * How often the suspending waits poll a fence when no interval is given. A [Fence] has no
 * completion callback, only [Fence.isComplete], which never blocks.
 */
public val DEFAULT_FENCE_POLL_INTERVAL: Duration = 1.milliseconds

/**
 * Suspends until this fence completes, polling [Fence.isComplete] every [pollInterval]; the thread
 * is free meanwhile. Cancellable: a cancelled wait stops polling and leaves the fence as it was.
 * The caller still owns the fence (and closes it, or hands it to the pool).
 */
public suspend fun Fence.await(pollInterval: Duration = DEFAULT_FENCE_POLL_INTERVAL) {
    require(pollInterval.isPositive()) { "pollInterval must be positive, was $pollInterval" }
    while (!isComplete()) {
        delay(pollInterval)
    }
}

/**
 * Suspends until the device work behind [fence] has finished, taking ownership of the fence: it is
 * closed once complete.
 *
 * If the coroutine is cancelled while waiting, this scope is handed back with
 * [Scope.closeAfter]`(fence)` before the cancellation goes on: its handles are stale at once, but
 * its buffers stay out of the free lists until the device is done with them, and the pool closes
 * the fence then. Closing the scope afterwards (as [scope] and [withScope] do) changes nothing.
 *
 * ```
 * pool.withScope {
 *     val out = alloc(bytes, DType.F32)
 *     launchKernels(out)
 *     await(gpu.recordFence())   // cancelled here: out's memory is reused only after the kernels
 *     out.copyTo(host)
 * }
 * ```
 */
public suspend fun Scope.await(fence: Fence, pollInterval: Duration = DEFAULT_FENCE_POLL_INTERVAL) {
    try {
        fence.await(pollInterval)
    } catch (e: CancellationException) {
        closeAfter(fence)
        throw e
    }
    fence.close()
}
