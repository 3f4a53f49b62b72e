package dev.mlxarena;

import dev.mlxarena.spi.DeviceStream;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Blocks on their way back to the pool that a thread took out under the lock so that it can finish
 * their hand-back without it: poison them ({@link PoolOptions#isPoisonOnRecycle()}) and, for
 * blocks handed back on a stream, record the fence behind which other users may take them. Each
 * group is one hand-back, on one stream or none. While in transit the blocks are DEFERRED and
 * counted as waiting, in no list: the thread that holds the transit owns them (see {@code
 * Settler}).
 */
final class Transit {
  /** One hand-back's blocks and the stream it was made on, or {@code null}. */
  record Group(Block[] blocks, @Nullable DeviceStream stream) {}

  final List<Group> groups = new ArrayList<>(2);

  static Transit of(Block b, @Nullable DeviceStream stream) {
    Transit t = new Transit();
    t.add(new Block[] {b}, stream);
    return t;
  }

  void add(Block[] blocks, @Nullable DeviceStream stream) {
    groups.add(new Group(blocks, stream));
  }

  boolean isEmpty() {
    return groups.isEmpty();
  }
}
