package dev.mlxarena.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's module names, used as an application would: an application module whose
 * module-info requires every module the install table names (the natives jars aside: they hold no
 * code) is compiled and run on the module path, with the published jars and their dependencies,
 * in a child JVM. Each module must resolve as an explicit module, the backends must be found
 * through the core's {@code uses}, and the scopes, Kotlin and Micrometer modules must work from it.
 */
class ModulePathAppTest {
  /** An install-table row: {@code | `artifact` | `module.name` | what |}. */
  private static final Pattern ROW = Pattern.compile("^\\| `(mlx-arena-[\\w-]+)` \\| `([\\w.]+)` \\|");
  /** The test tooling on this module's class path, which no application has. */
  private static final Pattern TOOLING = Pattern.compile(
      ".*(-tests\\.jar|test-classes|/testing/target/|/mlx-arena-testing-|/org/junit/|/org/opentest4j/|/org/apiguardian/"
          + "|/kotlin-compiler-embeddable/|/kotlin-daemon-embeddable/|/kotlin-script-runtime/"
          + "|/kotlin-reflect/).*");

  @Test
  void anApplicationRequiringEveryModuleOfTheInstallTableRuns(@TempDir Path work) throws Exception {
    List<String> modules = installTableModules();
    assertTrue(modules.containsAll(List.of("dev.mlxarena.core", "dev.mlxarena.reactive",
        "dev.mlxarena.kotlin", "dev.mlxarena.micrometer")), "the install table names " + modules);

    String modulePath = Arrays.stream(Compilers.classPath().split(File.pathSeparator))
        .filter(p -> !TOOLING.matcher(p.replace(File.separatorChar, '/')).matches())
        .collect(Collectors.joining(File.pathSeparator));
    for (String name : modules) {
      Optional<ModuleReference> found = ModuleFinder.of(
          Arrays.stream(modulePath.split(File.pathSeparator)).map(Paths::get).toArray(Path[]::new))
          .find(name);
      assertTrue(found.isPresent(), name + " is on the module path of the published jars");
    }

    Path sources = work.resolve("src");
    Files.createDirectories(sources.resolve("app"));
    Files.writeString(sources.resolve("module-info.java"), "module app {\n"
        + modules.stream().map(m -> "  requires " + m + ";\n").collect(Collectors.joining())
        + "}\n");
    Files.copy(resource("moduleapp/app/Main.java"), sources.resolve("app/Main.java"));
    Path classes = work.resolve("classes");
    assertEquals(0, ToolProvider.getSystemJavaCompiler().run(null, null, null,
        "--module-path", modulePath, "-d", classes.toString(), "-Xlint:-options",
        sources.resolve("module-info.java").toString(), sources.resolve("app/Main.java").toString()),
        "the application module compiles against the modules the README names");

    List<String> command = new ArrayList<>(List.of(
        Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=com.sun.jna",
        "--module-path", modulePath + File.pathSeparator + classes,
        "--module", "app/app.Main"));
    command.addAll(modules);
    Process run = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(run.waitFor(60, TimeUnit.SECONDS), "the application finished");
    assertEquals(0, run.exitValue(), output);

    List<String> expected = modules.stream().map(m -> m + ": explicit").collect(Collectors.toList());
    expected.addAll(List.of(
        "backends [auto, host, metal, cuda, sim]",
        "in use in a scope block 1, after 0",
        "tokens [0, 1, 2]",
        "metrics count allocations: true"));
    assertEquals(expected, output.lines().collect(Collectors.toList()), output);
  }

  /** The module names of the README's install table, but those of the natives jars. */
  private static List<String> installTableModules() throws Exception {
    List<String> modules = new ArrayList<>();
    for (String line : Files.readAllLines(ReadmeBlocksTest.ROOT.resolve("README.md"))) {
      Matcher row = ROW.matcher(line);
      if (row.find()) {
        modules.add(row.group(2));
      }
    }
    assertFalse(modules.isEmpty(), "README.md has an install table of artifacts and module names");
    return modules;
  }

  private static Path resource(String name) throws URISyntaxException {
    return Paths.get(ModulePathAppTest.class.getClassLoader().getResource(name).toURI());
  }
}
