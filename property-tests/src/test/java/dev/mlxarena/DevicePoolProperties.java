package dev.mlxarena;

import dev.mlxarena.cuda.CudaHarness;
import dev.mlxarena.cuda.CudaStorage;
import dev.mlxarena.cuda.RequiresCuda;
import dev.mlxarena.metal.RealMetalHarness;
import dev.mlxarena.metal.SimHarness;
import dev.mlxarena.metal.StorageMode;
import dev.mlxarena.testing.TestDevice;
import net.jqwik.api.Group;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import java.lang.reflect.AnnotatedElement;
import java.lang.reflect.Method;
import java.util.Optional;
import net.jqwik.api.lifecycle.LifecycleContext;
import net.jqwik.api.lifecycle.PropagationMode;
import net.jqwik.api.lifecycle.SkipExecutionHook;

/** The model-based property on every device this machine has; the others skip with a reason. */
class DevicePoolProperties {

  @Group
  class HostMemory extends PoolStateProperties {
    @Override
    PoolMachineFactory factory() {
      return new PoolMachineFactory(TestDevice::withoutResidency, false);
    }
  }

  @Group
  class HostMemoryWithResidencyAndFailures extends PoolStateProperties {
    @Override
    PoolMachineFactory factory() {
      return new PoolMachineFactory(TestDevice::withResidency, true);
    }
  }

  @Group
  class HostMemoryWithSizeClasses extends PoolStateProperties {
    @Override
    PoolMachineFactory factory() {
      return new PoolMachineFactory(TestDevice::withResidency, true, BucketPolicy.sizeClasses(4));
    }
  }

  @Group
  class HostMemoryPoisonedOnRecycle extends PoolStateProperties {
    @Override
    PoolMachineFactory factory() {
      return new PoolMachineFactory(TestDevice::withResidency, true, BucketPolicy.powerOfTwo(), true);
    }
  }

  @Group
  class SimShim extends PoolStateProperties {
    @Override
    PoolMachineFactory factory() {
      return new PoolMachineFactory(SimHarness::shared, true);
    }
  }

  @Group
  class SimShimWithoutResidencySupport extends PoolStateProperties {
    @Override
    PoolMachineFactory factory() {
      return new PoolMachineFactory(() -> new SimHarness(StorageMode.SHARED, false), true);
    }
  }

  @Group
  @AddLifecycleHook(OnlyOnMacOs.class)
  class RealMetal extends PoolStateProperties {
    @Override
    PoolMachineFactory factory() {
      return new PoolMachineFactory(RealMetalHarness::new, false);
    }
  }

  @Group
  @AddLifecycleHook(OnlyWithCuda.class)
  class CudaDeviceMemory extends PoolStateProperties {
    @Override
    PoolMachineFactory factory() {
      return new PoolMachineFactory(() -> new CudaHarness(CudaStorage.DEVICE), false);
    }
  }

  @Group
  @AddLifecycleHook(OnlyWithCuda.class)
  class CudaSharedMemory extends PoolStateProperties {
    @Override
    PoolMachineFactory factory() {
      return new PoolMachineFactory(() -> new CudaHarness(CudaStorage.SHARED), false);
    }
  }

  /**
   * A skip hook that decides per property rather than per group, so that every skipped property
   * shows in the report with its reason.
   */
  abstract static class PerPropertySkip implements SkipExecutionHook {
    @Override
    public PropagationMode propagateTo() {
      return PropagationMode.ALL_DESCENDANTS;
    }

    @Override
    public boolean appliesTo(Optional<AnnotatedElement> element) {
      return element.map(e -> e instanceof Method).orElse(false);
    }
  }

  /** Skips unless a CUDA GPU answers, with the driver's reason. */
  static final class OnlyWithCuda extends PerPropertySkip {
    @Override
    public SkipResult shouldBeSkipped(LifecycleContext context) {
      String why = RequiresCuda.Condition.reason();
      return why == null ? SkipResult.doNotSkip() : SkipResult.skip("needs a CUDA GPU: " + why);
    }
  }

  /** Skips off macOS: real Metal needs Apple Silicon. */
  static final class OnlyOnMacOs extends PerPropertySkip {
    @Override
    public SkipResult shouldBeSkipped(LifecycleContext context) {
      return com.sun.jna.Platform.isMac()
          ? SkipResult.doNotSkip()
          : SkipResult.skip("real Metal needs macOS on Apple Silicon");
    }
  }
}
