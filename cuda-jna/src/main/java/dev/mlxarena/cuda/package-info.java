/**
 * The CUDA backend: {@link dev.mlxarena.cuda.CudaDevice} runs the pool on NVIDIA GPUs through the
 * CUDA driver API ({@code libcuda}), bound with JNA direct mapping; {@link
 * dev.mlxarena.cuda.CudaStream} orders kernels, copies and token scopes; kernels come from CUDA C
 * sources compiled at first use by NVRTC ({@link dev.mlxarena.cuda.KernelCompiler}, {@link
 * dev.mlxarena.cuda.CudaModule}, {@link dev.mlxarena.cuda.CudaKernel}, which also launches them as
 * programmatic dependent launches), and matrix products from cuBLAS ({@link
 * dev.mlxarena.cuda.Cublas}); {@link dev.mlxarena.cuda.CudaTimeline} times work on a stream with
 * events. NVRTC and cuBLAS are loaded only when used, from the toolkit or PyTorch's pip wheels. No
 * managed memory is used.
 */
@NullMarked
package dev.mlxarena.cuda;

import org.jspecify.annotations.NullMarked;
