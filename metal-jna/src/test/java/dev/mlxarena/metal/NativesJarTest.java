package dev.mlxarena.metal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Platform;
import dev.mlxarena.BufferPool;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The natives-jar layout, shown on any OS with the sim shim standing in for the Metal shim: this
 * module's classes carry no native library, and a jar that holds nothing but {@code
 * <JNA prefix>/<library>} (as {@code natives-macos-arm64} holds {@code
 * darwin-aarch64/libmlxshim.dylib}) makes {@code Native.load} find the library when the jar is on
 * the class path or on the module path. Each case runs a small program in a child JVM with exactly
 * the jars an application would have.
 */
class NativesJarTest {
  private static final String PROBE =
      "public class Probe {\n"
          + "  public static void main(String[] args) {\n"
          + "    try (dev.mlxarena.spi.Device d = dev.mlxarena.Devices.open(\"sim\")) {\n"
          + "      System.out.println(\"opened \" + d.name());\n"
          + "    } catch (dev.mlxarena.DeviceUnavailableException e) {\n"
          + "      System.out.println(\"unavailable: \" + e.getMessage());\n"
          + "    }\n"
          + "  }\n"
          + "}\n";

  @TempDir static Path work;
  private static Path probe;
  private static Path nativesJar;

  @BeforeAll
  static void compileTheProbeAndPackTheNativesJar() throws Exception {
    probe = Files.createDirectories(work.resolve("probe"));
    Path source = probe.resolve("Probe.java");
    Files.writeString(source, PROBE);
    assertEquals(0, ToolProvider.getSystemJavaCompiler().run(null, null, null,
        "-cp", location(BufferPool.class).toString(), "-d", probe.toString(), source.toString()));

    String entry = Platform.RESOURCE_PREFIX + "/" + System.mapLibraryName(Shims.SIM);
    URL shim = NativesJarTest.class.getClassLoader().getResource(entry);
    assertNotNull(shim, entry + " on the test class path (built with the tests)");
    Manifest manifest = new Manifest();
    manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    manifest.getMainAttributes().put(new Attributes.Name("Automatic-Module-Name"), "test.natives");
    nativesJar = work.resolve("natives.jar");
    try (OutputStream file = Files.newOutputStream(nativesJar);
        JarOutputStream jar = new JarOutputStream(file, manifest)) {
      jar.putNextEntry(new JarEntry(entry));
      try (InputStream in = shim.openStream()) { // a file, or an entry of the testing jar
        jar.write(in.readAllBytes());
      }
      jar.closeEntry();
    }
  }

  @Test
  void theClassesOfThisModuleCarryNoNativeLibrary() throws Exception {
    try (Stream<Path> files = Files.walk(location(MetalDevice.class))) {
      List<Path> natives = files
          .filter(p -> p.toString().matches(".*\\.(so|dylib|dll|jnilib)$"))
          .collect(Collectors.toList());
      assertEquals(List.of(), natives, "native libraries belong in the natives and test jars");
    }
  }

  @Test
  void withoutTheNativesJarTheShimIsMissingAndTheMessageSaysWhereItShips() throws Exception {
    String out = run("--enable-native-access=ALL-UNNAMED", "-cp", classPath());
    assertTrue(out.startsWith("unavailable: cannot load " + System.mapLibraryName(Shims.SIM)), out);
    assertTrue(out.contains("test jar"), out);
  }

  @Test
  void aNativesJarOnTheClassPathIsFound() throws Exception {
    String out = run("--enable-native-access=ALL-UNNAMED",
        "-cp", classPath() + File.pathSeparator + nativesJar);
    assertEquals("opened mlxshim-sim", out);
  }

  @Test
  void aNativesJarOnTheModulePathIsFound() throws Exception {
    // The natives jar is an automatic module that nothing requires; it is resolved all the same,
    // because resolving one automatic module (JNA's) resolves every one on the module path.
    String out = run("--enable-native-access=com.sun.jna",
        "--module-path", modulePath() + File.pathSeparator + nativesJar,
        "--add-modules", "dev.mlxarena.metal", "-cp", probe.toString());
    assertEquals("opened mlxshim-sim", out);
  }

  /** This module's classes, the core's, JNA, JSpecify and the probe: an application's class path. */
  private static String classPath() throws URISyntaxException {
    return modulePath() + File.pathSeparator + probe;
  }

  private static String modulePath() throws URISyntaxException {
    return Stream.of(location(MetalDevice.class), location(BufferPool.class),
            location(com.sun.jna.Native.class), location(org.jspecify.annotations.Nullable.class))
        .map(Path::toString)
        .collect(Collectors.joining(File.pathSeparator));
  }

  /** Runs the probe in a child JVM with {@code options}; returns its one line of output. */
  private static String run(String... options) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(List.of(options));
    command.add("Probe");
    Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the child JVM finished");
    assertEquals(0, child.exitValue(), out);
    return out;
  }

  private static Path location(Class<?> c) throws URISyntaxException {
    return Paths.get(c.getProtectionDomain().getCodeSource().getLocation().toURI());
  }
}
