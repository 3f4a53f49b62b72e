package dev.mlxarena.kotlin

import dev.mlxarena.BufferPool
import dev.mlxarena.host.HostDevice
import org.junit.jupiter.api.AfterEach

/** A pool over host memory for each test, closed after it. */
abstract class HostPoolFixture {
    protected val device: HostDevice = HostDevice.create()
    protected val pool: BufferPool = BufferPool.create(device)

    @AfterEach
    fun closePool() {
        pool.close()
        device.close()
    }
}
