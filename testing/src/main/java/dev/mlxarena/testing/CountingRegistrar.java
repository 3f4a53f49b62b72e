package dev.mlxarena.testing;

import dev.mlxarena.spi.BufferRegistrar;
import dev.mlxarena.spi.DeviceBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * A {@link BufferRegistrar} that counts, and records every breach of the registration contract
 * (R2) instead of trusting the pool: a buffer registered while registered, a deregistration of one
 * that is not, a call the {@link #whileCalled} check objects to (the pool's lock held, say). Keyed
 * by the {@link DeviceBuffer} object, as the pool's registrars are. Thread-safe.
 */
public final class CountingRegistrar implements BufferRegistrar {
  private final String name;
  private final Set<DeviceBuffer> registered = Collections.newSetFromMap(new IdentityHashMap<>());
  private final List<String> breaches = new ArrayList<>();
  private final List<Integer> liveAtDeregistration = new ArrayList<>();
  private long registrations;
  private long deregistrations;
  private boolean failRegistrations;
  private @Nullable Supplier<@Nullable String> whileCalled;
  private @Nullable IntSupplier liveAllocations;

  public CountingRegistrar(String name) {
    this.name = name;
  }

  /**
   * Runs {@code check} in every call; a non-null answer is recorded as a breach ("the pool's lock
   * is held").
   */
  public synchronized CountingRegistrar whileCalled(Supplier<@Nullable String> check) {
    this.whileCalled = check;
    return this;
  }

  /** Records {@code live} (the device's live allocations) at each deregistration. */
  public synchronized CountingRegistrar recordLiveAllocations(IntSupplier live) {
    this.liveAllocations = live;
    return this;
  }

  /** Makes every registration from now on throw (or not). */
  public synchronized void failRegistrations(boolean fail) {
    this.failRegistrations = fail;
  }

  @Override
  public synchronized void register(DeviceBuffer buffer) {
    check("register");
    if (failRegistrations) {
      throw new IllegalStateException(name + ": registration refused (as asked)");
    }
    if (!registered.add(buffer)) {
      breaches.add("registered twice: " + buffer);
      throw new IllegalStateException(name + ": " + buffer + " is registered already");
    }
    registrations++;
  }

  @Override
  public synchronized void deregister(DeviceBuffer buffer) {
    check("deregister");
    if (!registered.remove(buffer)) {
      breaches.add("deregistered unregistered: " + buffer);
      throw new IllegalStateException(name + ": " + buffer + " is not registered");
    }
    deregistrations++;
    if (liveAllocations != null) {
      liveAtDeregistration.add(liveAllocations.getAsInt());
    }
  }

  private void check(String call) {
    String problem = whileCalled == null ? null : whileCalled.get();
    if (problem != null) {
      breaches.add(call + ": " + problem);
    }
  }

  public synchronized boolean isRegistered(DeviceBuffer buffer) {
    return registered.contains(buffer);
  }

  /** The buffers registered now, by identity. */
  public synchronized Set<DeviceBuffer> registered() {
    Set<DeviceBuffer> copy = Collections.newSetFromMap(new IdentityHashMap<>());
    copy.addAll(registered);
    return copy;
  }

  /** Buffers registered now. */
  public synchronized int size() {
    return registered.size();
  }

  public synchronized long registrations() {
    return registrations;
  }

  public synchronized long deregistrations() {
    return deregistrations;
  }

  /** Every breach seen, in order; empty when the pool kept the contract. */
  public synchronized List<String> breaches() {
    return List.copyOf(breaches);
  }

  /** The device's live allocations at each deregistration, in order. */
  public synchronized List<Integer> liveAtDeregistration() {
    return List.copyOf(liveAtDeregistration);
  }

  @Override
  public String toString() {
    return name;
  }
}
