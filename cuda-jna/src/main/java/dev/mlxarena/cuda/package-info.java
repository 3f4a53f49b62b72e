/**
 * The CUDA backend: {@link dev.mlxarena.cuda.CudaDevice} runs the pool on NVIDIA GPUs through the
 * CUDA driver API ({@code libcuda}), bound with JNA direct mapping; {@link
 * dev.mlxarena.cuda.CudaStream} orders kernels, copies and token scopes; kernels come from CUDA C
 * sources compiled at first use by NVRTC ({@link dev.mlxarena.cuda.KernelCompiler}, {@link
 * dev.mlxarena.cuda.CudaModule}, {@link dev.mlxarena.cuda.CudaKernel}), and matrix products from
 * cuBLAS ({@link dev.mlxarena.cuda.Cublas}). NVRTC and cuBLAS are loaded only when used, from the
 * toolkit or PyTorch's pip wheels. No managed memory is used.
 */
@NullMarked
package dev.mlxarena.cuda;

import org.jspecify.annotations.NullMarked;
