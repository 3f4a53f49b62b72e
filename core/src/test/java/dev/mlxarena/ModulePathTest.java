package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The core as a named module: a small application module ({@code src/test/resources/modulepath})
 * is compiled against the core's classes, JNA and JSpecify on the module path, and run in a child
 * JVM started with {@code --module-path}. It must see an explicit module exporting exactly the API,
 * the SPI and the host device, find a backend it provides through the core's {@code uses} clause,
 * and decode two tokens through a pool on it (host memory through JNA).
 */
class ModulePathTest {

  @Test
  void anApplicationModuleRunsOnTheModulePath(@TempDir Path work) throws Exception {
    String modulePath = Stream.of(location(BufferPool.class), location(com.sun.jna.Native.class),
            location(org.jspecify.annotations.Nullable.class))
        .map(Path::toString)
        .collect(Collectors.joining(File.pathSeparator));
    Path classes = work.resolve("dev.mlxarena.example");
    List<String> javac = new ArrayList<>(List.of(
        "--module-path", modulePath, "-d", classes.toString(), "-Xlint:-options"));
    try (Stream<Path> sources = Files.walk(source("modulepath/dev.mlxarena.example"))) {
      sources.filter(p -> p.toString().endsWith(".java")).forEach(p -> javac.add(p.toString()));
    }
    assertEquals(0, ToolProvider.getSystemJavaCompiler().run(null, null, null,
        javac.toArray(new String[0])), "the example module compiles against the core module");

    Process run = new ProcessBuilder(
            Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
            "--enable-native-access=com.sun.jna", // JNA's module loads native code: no warning
            "--module-path", modulePath + File.pathSeparator + classes,
            "--module", "dev.mlxarena.example/dev.mlxarena.example.Main")
        .redirectErrorStream(true)
        .start();
    String output = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(run.waitFor(60, TimeUnit.SECONDS), "the child JVM finished");
    assertEquals(0, run.exitValue(), output);
    assertEquals(List.of(
            "module dev.mlxarena.core",
            "exports [dev.mlxarena, dev.mlxarena.host, dev.mlxarena.spi]",
            "backends [auto, host, example]",
            "token 0: 0.5, 2 live",
            "token 1: 1.5, 2 live",
            "reuse hits 2, fresh 2"),
        output.lines().collect(Collectors.toList()), output);
  }

  private static Path location(Class<?> c) throws URISyntaxException {
    return Paths.get(c.getProtectionDomain().getCodeSource().getLocation().toURI());
  }

  private static Path source(String resource) throws URISyntaxException, IOException {
    return Paths.get(ModulePathTest.class.getClassLoader().getResource(resource).toURI());
  }
}
