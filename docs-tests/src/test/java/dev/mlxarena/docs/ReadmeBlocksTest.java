package dev.mlxarena.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.sun.jna.Platform;
import dev.mlxarena.cuda.RequiresCuda;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Hooks;

/**
 * Every fenced block of {@code README.md}, found anew on each run, so a block added later is
 * covered without a change here. What happens to a block depends on its info string:
 *
 * <ul>
 *   <li>{@code java}, {@code kotlin}: compiled against every published module (see {@link
 *       Snippet} for how a block becomes a class and {@link ReadmeFixture} for the names it may
 *       use undeclared), then run. It fails if it does not compile, throws, runs past two minutes,
 *       drops a Reactor error, or leaves empty an output it writes to. A block that opens {@code
 *       CudaDevice} or {@code MetalDevice} is compiled everywhere and run where that device is,
 *       else skipped with the reason.
 *   <li>{@code xml pom.xml}, {@code kotlin build.gradle.kts}: the mlx-arena dependencies in it
 *       must be published artifacts (the BOM's) at the project's version ({@link
 *       InstallCoordinates}).
 *   <li>{@code sh}, {@code bash}, {@code shell}, {@code console}, {@code text} and blocks without a
 *       language: commands and output, not run.
 *   <li>anything else fails, asking for a rule.
 * </ul>
 */
class ReadmeBlocksTest {
  static final Path ROOT = Paths.get(System.getProperty("mlxarena.root", ".."));
  private static final Duration HANG = Duration.ofMinutes(2);

  @TempDir static Path work;
  /** The Kotlin blocks, compiled together when the first of them is checked. */
  private static List<Snippet> kotlin = List.of();
  private static @Nullable Boolean kotlinCompiledTogether;

  @TestFactory
  Stream<DynamicTest> everyBlockOfTheReadme() throws IOException {
    List<CodeBlock> blocks =
        CodeBlock.parse("README.md", Files.readAllLines(ROOT.resolve("README.md")));
    List<String> languages = blocks.stream().map(b -> b.language).collect(Collectors.toList());
    assertTrue(languages.contains("java") && languages.contains("kotlin"),
        "README.md has Java and Kotlin blocks to run; found " + languages);
    kotlin = blocks.stream()
        .filter(b -> b.name.isEmpty() && b.language.equals("kotlin"))
        .map(Snippet::kotlin)
        .collect(Collectors.toList());
    return blocks.stream()
        .filter(b -> !notCode(b))
        .map(b -> DynamicTest.dynamicTest(b.toString(), () -> check(b)));
  }

  private static boolean notCode(CodeBlock b) {
    return b.name.isEmpty()
        && List.of("", "sh", "bash", "shell", "console", "text").contains(b.language);
  }

  private static void check(CodeBlock b) throws Exception {
    if (b.name.isEmpty() && b.language.equals("java")) {
      compileAndRun(Snippet.java(b));
    } else if (b.name.isEmpty() && b.language.equals("kotlin")) {
      compileAndRun(Snippet.kotlin(b));
    } else if (b.language.equals("xml") && b.name.equals("pom.xml")) {
      InstallCoordinates.checkMaven(b);
    } else if (b.language.equals("kotlin") && b.name.equals("build.gradle.kts")) {
      InstallCoordinates.checkGradle(b);
    } else {
      fail(b + ": no rule for this block. Java and Kotlin blocks are compiled and run; "
          + "\"xml pom.xml\" and \"kotlin build.gradle.kts\" blocks have their dependencies "
          + "checked; sh, text and unlabelled blocks (commands, output) are left alone.");
    }
  }

  private static void compileAndRun(Snippet s) throws Exception {
    Path out = compiled(s);
    String unavailable = unavailableDevice(s.block.text());
    Assumptions.assumeTrue(unavailable == null, unavailable);

    List<Throwable> dropped = new CopyOnWriteArrayList<>();
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    PrintStream stdout = System.out;
    try (URLClassLoader loader = new URLClassLoader(
            new URL[] {out.toUri().toURL()}, ReadmeBlocksTest.class.getClassLoader());
        ReadmeFixture block = (ReadmeFixture) loader.loadClass("readme." + s.className)
            .getDeclaredConstructor().newInstance()) {
      Hooks.onErrorDropped(dropped::add);
      System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
      try {
        assertTimeoutPreemptively(HANG, () -> {
          if (s.members) {
            block.callDeclaredMethods();
          } else {
            block.run();
          }
        }, s.block + " did not return");
      } finally {
        System.setOut(stdout);
        Hooks.resetOnErrorDropped();
      }
      assertEquals(List.of(), dropped, s.block + ": Reactor dropped these errors");
      assertEquals(List.of(), block.silentOutputs(s.block.text(),
          printed.toString(StandardCharsets.UTF_8)), s.block + " returned before its work was done");
    }
  }

  /** The folder that holds the block's class; fails with the block's errors if it does not compile. */
  private static Path compiled(Snippet s) throws IOException {
    if (s.fileName.endsWith(".kt") && kotlinCompiledTogether()) {
      return work.resolve("kotlin");
    }
    Path out = work.resolve(s.className);
    List<String> errors = Compilers.compile(s, out);
    if (!errors.isEmpty()) {
      fail(s.block + " does not compile:\n  " + String.join("\n  ", errors));
    }
    return out;
  }

  /** Whether the Kotlin blocks compiled in one run of the compiler, tried once. */
  private static synchronized boolean kotlinCompiledTogether() throws IOException {
    if (kotlinCompiledTogether == null) {
      kotlinCompiledTogether = Compilers.compileKotlinTogether(kotlin, work.resolve("kotlin"));
    }
    return kotlinCompiledTogether;
  }

  /** Why a device the block opens is not here, or null: CUDA needs a GPU, Metal needs macOS. */
  private static @Nullable String unavailableDevice(String text) {
    if (text.contains("CudaDevice")) {
      String why = RequiresCuda.Condition.reason();
      if (why != null) {
        return "needs a CUDA GPU: " + why;
      }
    }
    if (text.contains("MetalDevice") && !Platform.isMac()) {
      return "real Metal needs macOS on Apple Silicon";
    }
    return null;
  }
}
