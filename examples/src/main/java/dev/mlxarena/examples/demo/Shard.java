package dev.mlxarena.examples.demo;

/**
 * One rank's part of a decoder split Megatron-style over {@code ranks} GPUs: each rank holds
 * {@code 1 / ranks} of the attention heads (their query, key and value rows: column-parallel) and
 * of the feed-forward width (gate and up rows), and the matching columns of the output and down
 * projections (row-parallel), whose partial products an all-reduce sums. Embedding, norms and the
 * LM head are whole on every rank, so every rank computes the same logits and the same tokens.
 *
 * @param rank this rank, from 0
 * @param ranks how many GPUs share the model (1: the whole model)
 */
record Shard(int rank, int ranks) {
  /** The whole model on one GPU. */
  static final Shard WHOLE = new Shard(0, 1);

  Shard {
    if (ranks < 1 || rank < 0 || rank >= ranks) {
      throw new IllegalArgumentException("rank " + rank + " of " + ranks);
    }
  }

  /**
   * Checks that {@code cfg} splits evenly over {@code ranks} GPUs.
   *
   * @throws IllegalArgumentException naming what does not divide
   */
  static void check(ModelConfig cfg, int ranks) {
    if (ranks < 1) {
      throw new IllegalArgumentException("--tp must be at least 1, was " + ranks);
    }
    String bad = cfg.heads() % ranks != 0 ? cfg.heads() + " attention heads"
        : cfg.kvHeads() % ranks != 0 ? cfg.kvHeads() + " key/value heads"
        : cfg.ffn() % ranks != 0 ? "the FFN width of " + cfg.ffn() : null;
    if (bad != null) {
      throw new IllegalArgumentException("--tp " + ranks + ": the " + bad + " do not split evenly over " + ranks
          + " GPUs (heads, key/value heads and the FFN width must all be multiples of the GPU count)");
    }
  }

  /** Whether this rank holds the whole model. */
  boolean whole() {
    return ranks == 1;
  }

  /** This rank's attention heads. */
  int heads(ModelConfig cfg) {
    return cfg.heads() / ranks;
  }

  /** This rank's key/value heads. */
  int kvHeads(ModelConfig cfg) {
    return cfg.kvHeads() / ranks;
  }

  /** This rank's feed-forward width. */
  int ffn(ModelConfig cfg) {
    return cfg.ffn() / ranks;
  }
}
