package dev.mlxarena.cuda;

/** What every test that makes NCCL communicators does first. */
public final class NcclTesting {
  private NcclTesting() {}

  /**
   * Keeps NVLink multicast (NVLS) off for this process's communicators: {@code NCCL_NVLS_ENABLE=0}
   * unless the environment already says otherwise, in which case it must say 0. Multicast objects
   * can take a shared machine's GPUs out of service; these tests never need them.
   *
   * @throws IllegalStateException if the environment turns multicast on
   */
  public static void keepMulticastOff() {
    String nvls = Nccl.environmentDefault("NCCL_NVLS_ENABLE", "0");
    if (!nvls.equals("0")) {
      throw new IllegalStateException("NCCL_NVLS_ENABLE=" + nvls + " in the environment: these tests keep NVLink"
          + " multicast off; unset it or set it to 0");
    }
  }
}
