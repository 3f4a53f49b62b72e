package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** NVRTC, module loading and launches on a real GPU. */
@RequiresCuda
class CudaKernelTest {
  private static final KernelSource SOURCE =
      KernelSource.resource(CudaKernelTest.class, "test_kernels.cu", "-lineinfo");

  @Test
  void aCompiledKernelRunsOnTheStreamWithItsArguments() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream stream = CudaStream.create(gpu);
        CudaModule module = CudaModule.compile(gpu, SOURCE);
        BufferPool pool = BufferPool.create(gpu)) {
      assertTrue(module.image().isCubin() || module.image().architecture().startsWith("compute_"));
      int n = 1000;
      float[] x = new float[n];
      float[] y = new float[n];
      for (int i = 0; i < n; i++) {
        x[i] = i;
        y[i] = 1;
      }
      Buffer bx = pool.alloc(4L * n, DType.F32).copyFrom(x);
      Buffer by = pool.alloc(4L * n, DType.F32).copyFrom(y);
      CudaKernel axpy = module.kernel("axpy_f32", 4);
      axpy.f32(2f).ptr(bx).ptr(by).i32(n).launch(stream, (n + 255) / 256, 256);
      Buffer iota = pool.alloc(8L * n, DType.I64);
      module.kernel("iota_i64", 3).ptr(iota).i64(1L << 40).i32(n).launch(stream, (n + 127) / 128, 128);
      stream.synchronize();
      float[] out = new float[n];
      by.copyTo(out);
      long[] ids = new long[n];
      iota.copyTo(ids);
      for (int i = 0; i < n; i++) {
        assertEquals(2f * i + 1, out[i]);
        assertEquals((1L << 40) + i, ids[i]);
      }
    }
  }

  @Test
  void dependentLaunchesOnAStreamComputeWhatPlainLaunchesDo() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream stream = CudaStream.create(gpu);
        CudaModule module = CudaModule.compile(gpu, SOURCE);
        BufferPool pool = BufferPool.create(gpu)) {
      assumeTrue(gpu.computeCapability() >= 90, "programmatic dependent launches need compute capability 9.0, this GPU"
          + " has " + gpu.computeCapability());
      int n = 1 << 16;
      float[] x = new float[n];
      for (int i = 0; i < n; i++) {
        x[i] = i % 7;
      }
      Buffer bx = pool.alloc(4L * n, DType.F32).copyFrom(x);
      Buffer by = pool.alloc(4L * n, DType.F32).copyFrom(new float[n]);
      CudaKernel axpy = module.kernel("axpy_after_f32", 4).dependentLaunches(true);
      assertTrue(axpy.dependentLaunches());
      for (int round = 0; round < 100; round++) {
        axpy.f32(1f).ptr(bx).ptr(by).i32(n).launch(stream, n / 256, 256);
      }
      axpy.dependentLaunches(false);
      axpy.f32(1f).ptr(bx).ptr(by).i32(n).launch(stream, n / 256, 256);
      stream.synchronize();
      float[] y = new float[n];
      by.copyTo(y);
      for (int i = 0; i < n; i++) {
        assertEquals(101f * (i % 7), y[i], "element " + i + ": each launch saw the one before it whole");
      }
    }
  }

  @Test
  void aLaunchTheDriverRefusesNamesTheKernelGridAndBlock() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream stream = CudaStream.create(gpu);
        CudaModule module = CudaModule.compile(gpu, SOURCE)) {
      CudaKernel axpy = module.kernel("axpy_f32", 4);
      CudaException e = assertThrows(CudaException.class,
          () -> axpy.f32(1).ptr(0).ptr(0).i32(0).launch(stream, 1, 2048));
      assertTrue(e.getMessage().contains("kernel axpy_f32, grid (1, 1, 1), block (2048, 1, 1)"), e.getMessage());
      CudaException missing = assertThrows(CudaException.class, () -> module.kernel("axpy_f64", 4));
      assertTrue(missing.getMessage().contains("no kernel 'axpy_f64' in"), missing.getMessage());
      stream.synchronize();
    }
  }

  @Test
  void nvrtcReportsACompileErrorWithItsLog() {
    try (CudaDevice gpu = CudaDevice.open(0)) {
      KernelSource bad = KernelSource.of("broken.cu", "extern \"C\" __global__ void k(flaot* x) {}\n");
      KernelCompileException e = assertThrows(KernelCompileException.class,
          () -> KernelCompiler.shared().compile(bad, gpu.computeCapability()));
      assertTrue(e.getMessage().contains("broken.cu") && e.getLog().contains("flaot"), e.getMessage());
    }
  }

  @Test
  void theDiskCacheSkipsNvrtcInALaterCompiler(@TempDir Path dir) {
    try (CudaDevice gpu = CudaDevice.open(0)) {
      NvrtcLibrary nvrtc = NvrtcLibrary.load();
      KernelImage built = new KernelCompiler(nvrtc, dir).compile(SOURCE, gpu.computeCapability());
      KernelCompiler later = new KernelCompiler(nvrtc, dir);
      KernelImage cached = later.compile(SOURCE, gpu.computeCapability());
      assertTrue(cached.fromDiskCache());
      assertEquals(0, later.compilations());
      assertEquals(built.size(), cached.size());
      CudaModule.load(gpu, cached).close();
    }
  }
}
