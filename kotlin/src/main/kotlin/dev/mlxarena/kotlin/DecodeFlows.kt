package dev.mlxarena.kotlin

import dev.mlxarena.reactive.DecodeLoop
import dev.mlxarena.reactive.TokenEvent
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.reactive.asFlow

/**
 * The loop's tokens as a cold [Flow]: each collection runs the loop once, with its own session.
 *
 * The flow asks the loop for one token at a time, so a step runs only when the collector is ready
 * for its token and `take(n)` runs exactly `n` steps; add `.buffer(k)` to let the loop run up to
 * `k` tokens ahead of a slow collector.
 *
 * Cancelling the collector (or a `take`, `first` or exception downstream) cancels the loop: between
 * steps it closes the session at once; during a step it lets the step return, then closes the
 * step's scope and the session on the loop's thread, so no buffer is recycled under a running step.
 */
public fun <S : Any, T : Any> DecodeLoop<S, T>.asFlow(): Flow<T> =
    run().asFlow().buffer(Channel.RENDEZVOUS)

/**
 * The loop's [TokenEvent]s (token, index, step time, the pool's per-token statistics) as a cold
 * [Flow], with the demand and cancellation of [asFlow].
 */
public fun <S : Any, T : Any> DecodeLoop<S, T>.eventFlow(): Flow<TokenEvent<T>> =
    events().asFlow().buffer(Channel.RENDEZVOUS)
