package dev.mlxarena.reactive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.PoolInvariants;
import dev.mlxarena.Scope;
import dev.mlxarena.testing.TestDevice;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;
import reactor.test.publisher.PublisherProbe;

@ExtendWith(PoolInvariants.class)
class ReactiveScopesTest {
  private TestDevice device;
  private BufferPool pool;
  private final List<Scope> scopes = new ArrayList<>();
  private final List<Buffer> buffers = new ArrayList<>();

  @BeforeEach
  void setUp() {
    device = TestDevice.withoutResidency();
    pool = BufferPool.create(device);
  }

  private Mono<Integer> body(Scope s) {
    scopes.add(s);
    buffers.add(s.alloc(64, DType.U8));
    return Mono.just(7);
  }

  private void assertAllClosed() {
    for (Scope s : scopes) {
      assertFalse(s.isOpen());
    }
    for (Buffer b : buffers) {
      assertFalse(b.isValid());
    }
    assertEquals(0, pool.inUseCount());
  }

  @Test
  void closesOnComplete() {
    StepVerifier.create(ReactiveScopes.withScope(pool, this::body)).expectNext(7).verifyComplete();
    assertAllClosed();
  }

  @Test
  void closesOnError() {
    StepVerifier.create(
            ReactiveScopes.withScope(pool, s -> body(s).then(Mono.<Integer>error(new IllegalStateException("x")))))
        .verifyErrorMessage("x");
    assertAllClosed();
  }

  @Test
  void closesOnCancel() {
    PublisherProbe<Integer> never = PublisherProbe.of(Mono.never());
    Disposable d = ReactiveScopes.withScope(pool, s -> body(s).then(never.mono())).subscribe();
    never.assertWasSubscribed();
    assertEquals(1, pool.inUseCount(), "the scope is open while the body runs");
    d.dispose();
    never.assertWasCancelled();
    assertAllClosed();
  }

  @Test
  void twoSubscriptionsNeverShareAScope() {
    Mono<Integer> m = ReactiveScopes.withScope(pool, this::body);
    m.block();
    m.block();
    assertEquals(2, scopes.size());
    assertNotSame(scopes.get(0), scopes.get(1));
    assertAllClosed();
  }

  @Test
  void theFluxTwinKeepsTheScopeUntilItEnds() {
    Flux<Integer> f =
        ReactiveScopes.withScopeMany(
            pool,
            s -> {
              scopes.add(s);
              Buffer b = s.alloc(16, DType.I32);
              buffers.add(b);
              return Flux.range(0, 3).map(i -> {
                b.putI32(i, i); // the buffer is live for every element
                return b.getI32(i);
              });
            });
    StepVerifier.create(f).expectNext(0, 1, 2).verifyComplete();
    StepVerifier.create(f.take(1)).expectNext(0).verifyComplete();
    assertAllClosed();
  }
}
