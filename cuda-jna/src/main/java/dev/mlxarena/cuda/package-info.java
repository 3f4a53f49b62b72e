/**
 * The CUDA backend: {@link dev.mlxarena.cuda.CudaDevice} runs the pool on NVIDIA GPUs through the
 * CUDA driver API ({@code libcuda}), bound with JNA direct mapping. No CUDA runtime library and no
 * managed memory are used.
 */
@NullMarked
package dev.mlxarena.cuda;

import org.jspecify.annotations.NullMarked;
