package dev.mlxarena.reactive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.host.HostDevice;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A program that runs decode loops exits when its {@code main} returns: the loops leave no thread
 * that keeps the JVM alive. Checked in a child JVM, by what it reports rather than by how long it
 * takes: once every run has closed, the child lists the live non-daemon threads besides its own
 * {@code main}, and that list must be empty. The wait for the child is a generous bound that only
 * stops a hang.
 */
class ProgramExitTest {
  private static final String DONE = "decode program done";

  /** The child: runs loops to completion and to a cancel, then returns from main. */
  public static final class DecodeProgram {
    public static void main(String[] args) {
      List<Integer> completed;
      List<Integer> cancelled;
      try (HostDevice device = HostDevice.create();
          BufferPool pool = BufferPool.create(device)) {
        DecodeLoop<Integer, Integer> loop =
            DecodeLoop.<Integer, Integer>builder(
                    pool,
                    (token, s) -> {
                      token.alloc(256, DType.F32).putF32(0, s);
                      return Step.of(s + 1, s);
                    })
                .initialState(0)
                .maxTokens(4)
                .build();
        loop.run().blockLast(); // the everyday use: nothing to wait for afterwards
        DecodeLoop.Run<Integer> toTheEnd = loop.newRun();
        completed = toTheEnd.flux().collectList().block();
        toTheEnd.whenClosed().block();
        DecodeLoop.Run<Integer> cut = loop.newRun();
        cancelled = cut.flux().take(2).collectList().block();
        cut.whenClosed().block();
      }
      String keepingTheJvmAlive =
          Thread.getAllStackTraces().keySet().stream()
              .filter(t -> t != Thread.currentThread() && t.isAlive() && !t.isDaemon())
              .map(Thread::getName)
              .sorted()
              .collect(Collectors.joining(", ", "[", "]"));
      System.out.println("tokens " + completed + " " + cancelled);
      System.out.println("non-daemon threads " + keepingTheJvmAlive);
      System.out.println(DONE);
    }
  }

  @Test
  void theJvmExitsWhenMainReturns(@TempDir Path dir) throws Exception {
    String java =
        ProcessHandle.current()
            .info()
            .command()
            .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    Path output = dir.resolve("child.txt");
    Process child =
        new ProcessBuilder(
                java, "-cp", System.getProperty("java.class.path"), DecodeProgram.class.getName())
            .redirectErrorStream(true)
            .redirectOutput(output.toFile())
            .start();
    boolean exited = child.waitFor(60, TimeUnit.SECONDS);
    if (!exited) {
      child.destroyForcibly().waitFor();
    }
    String out = Files.readString(output, StandardCharsets.UTF_8);
    assertTrue(exited, "the child JVM was still running a minute later:\n" + out);
    assertEquals(0, child.exitValue(), out);
    assertTrue(out.contains(DONE), out);
    assertTrue(out.contains("tokens [0, 1, 2, 3] [0, 1]"), out);
    assertTrue(out.contains("non-daemon threads []"), out);
  }
}
