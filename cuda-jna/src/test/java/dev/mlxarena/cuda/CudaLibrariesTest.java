package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.NativeLibrary;
import dev.mlxarena.DeviceUnavailableException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where NVRTC, cuBLAS and NCCL are looked for, and what the message says when they are not found. Every
 * search here is given its own places, the toolkit's default directory included (under the test's
 * temporary directory, absent unless a test makes it), so what this machine has installed changes
 * nothing.
 */
class CudaLibrariesTest {
  @TempDir Path tmp;

  private final Map<String, String> env = new HashMap<>();
  private final Map<String, String> props = new HashMap<>();
  private final List<String> opened = new ArrayList<>();

  /** The search's stand-in for {@code /usr/local/cuda/lib64}. */
  private Path toolkitDefault() {
    return tmp.resolve("toolkit-default/lib64");
  }

  /** A loader that opens files under {@code tmp} whose name is in {@code good}, and nothing else. */
  private CudaLibraries<String> search(List<Path> pythonRoots, String... good) {
    return new CudaLibraries<>(env::get, props::get, List.of(toolkitDefault()), pythonRoots, name -> {
      opened.add(name);
      for (String g : good) {
        if (name.endsWith("/" + g)) {
          return name;
        }
      }
      throw new UnsatisfiedLinkError("Unable to load library '" + name + "':\n" + name
          + ": cannot open shared object file: No such file or directory\nNative paths: ...");
    });
  }

  private Path lib(Path dir, String name) throws IOException {
    Files.createDirectories(dir);
    return Files.createFile(dir.resolve(name));
  }

  @Test
  void whenNothingLoadsTheMessageListsEveryPlaceTriedInOrder() throws IOException {
    Path site = tmp.resolve("py/lib/python3.11/site-packages");
    Files.createDirectories(site.resolve("nvidia/cu13/lib"));
    Path ld = Files.createDirectories(tmp.resolve("ld"));
    env.put("CUDA_HOME", tmp.resolve("no-toolkit").toString());
    env.put("LD_LIBRARY_PATH", ld.toString());
    DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
        () -> search(List.of(tmp.resolve("py"))).load(CudaLibraries.NVRTC));
    String m = e.getMessage();
    List<String> expected = List.of(
        "NVRTC could not be loaded (libnvrtc.so.*)",
        "-Dmlxarena.cuda.libraryPath: not set",
        tmp.resolve("no-toolkit/lib64") + " ($CUDA_HOME): no such directory",
        tmp.resolve("no-toolkit/lib") + " ($CUDA_HOME): no such directory",
        "$CUDA_PATH: not set",
        toolkitDefault() + " (the toolkit's default): no such directory",
        site.resolve("nvidia/cu13/lib") + " (pip): no libnvrtc.so* there",
        site.resolve("nvidia/cu12/lib") + " (pip): no such directory",
        site.resolve("nvidia/cuda_nvrtc/lib") + " (pip): no such directory",
        ld + " ($LD_LIBRARY_PATH): no libnvrtc.so* there",
        "the system loader: libnvrtc.so.13: cannot open shared object file",
        "pip install nvidia-cuda-nvrtc",
        "-Dmlxarena.cuda.libraryPath=DIR");
    int at = -1;
    for (String part : expected) {
      int i = m.indexOf(part);
      assertTrue(i > at, "expected '" + part + "' after position " + at + " in:\n" + m);
      at = i;
    }
    for (String o : opened) {
      assertTrue(o.startsWith(tmp.toString()) || !o.contains("/"),
          "opened only what the search was given (or a bare name, for the system loader): " + o);
    }
  }

  @Test
  void aToolkitAtTheDefaultPlaceLoadsAfterCudaHomeAndBeforeThePipLayout() throws IOException {
    Path toolkit = toolkitDefault();
    lib(toolkit, "libnvrtc.so.13");
    lib(toolkit, "libnvrtc-builtins.so.13.0");
    Path pip = tmp.resolve("venv/lib/python3.12/site-packages/nvidia/cu13/lib");
    lib(pip, "libnvrtc.so.13");
    CudaLibraries.Loaded<String> l = search(List.of(tmp.resolve("venv")), "libnvrtc.so.13").load(CudaLibraries.NVRTC);
    assertEquals(toolkit.resolve("libnvrtc.so.13").toString(), l.opened(), "the toolkit's default before pip");

    Path home = tmp.resolve("cuda-home");
    lib(home.resolve("lib64"), "libnvrtc.so.13");
    env.put("CUDA_HOME", home.toString());
    l = search(List.of(tmp.resolve("venv")), "libnvrtc.so.13").load(CudaLibraries.NVRTC);
    assertEquals(home.resolve("lib64/libnvrtc.so.13").toString(), l.opened(), "$CUDA_HOME before the toolkit's default");
  }

  @Test
  void theProductionSearchKeepsTheToolkitsOwnDefault() {
    assertEquals(List.of(Path.of("/usr/local/cuda/lib64")), CudaLibraries.TOOLKIT_DEFAULTS);
  }

  @Test
  void withoutPythonTheMessageSaysNoSitePackagesWereFound() {
    DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
        () -> search(List.of(tmp.resolve("nowhere"))).load(CudaLibraries.CUBLAS));
    assertTrue(e.getMessage().contains("Python site-packages: none under"), e.getMessage());
    assertTrue(e.getMessage().contains("libcublas.so.13"), e.getMessage());
    assertTrue(e.getMessage().contains("$LD_LIBRARY_PATH: not set"), e.getMessage());
  }

  @Test
  void theNamedDirectoryWinsOverTheToolkit() throws IOException {
    Path named = tmp.resolve("named");
    Path toolkit = tmp.resolve("toolkit/lib64");
    lib(named, "libcublas.so.12");
    lib(toolkit, "libcublas.so.13");
    props.put(CudaLibraries.PATH_PROPERTY, tmp.resolve("missing") + java.io.File.pathSeparator + named);
    env.put("CUDA_HOME", tmp.resolve("toolkit").toString());
    CudaLibraries.Loaded<String> l =
        search(List.of(), "libcublas.so.12", "libcublas.so.13").load(CudaLibraries.CUBLAS);
    assertEquals(named.resolve("libcublas.so.12").toString(), l.opened());
  }

  @Test
  void thePipLayoutIsFoundAndItsCompanionLoadsFirst() throws IOException {
    Path dir = tmp.resolve("venv/lib/python3.12/site-packages/nvidia/cu13/lib");
    lib(dir, "libnvrtc.so.13");
    lib(dir, "libnvrtc-builtins.so.13.0");
    lib(dir, "libnvrtc-builtins.so.12.8");
    CudaLibraries.Loaded<String> l = search(List.of(tmp.resolve("venv")),
        "libnvrtc.so.13", "libnvrtc-builtins.so.13.0").load(CudaLibraries.NVRTC);
    assertEquals(dir.resolve("libnvrtc.so.13").toString(), l.opened());
    assertEquals(List.of(dir.resolve("libnvrtc-builtins.so.13.0").toString(), l.opened()),
        opened.subList(opened.size() - 2, opened.size()), "the builtins of the same major version first");
  }

  @Test
  void ncclIsFoundInTheLayoutOfItsPipWheelAndTheMessageSaysHowToInstallIt() throws IOException {
    DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
        () -> search(List.of(tmp.resolve("venv"))).load(CudaLibraries.NCCL));
    assertTrue(e.getMessage().startsWith("NCCL could not be loaded (libnccl.so.*)"), e.getMessage());
    assertTrue(e.getMessage().contains("the system loader: libnccl.so.2"), e.getMessage());
    assertTrue(e.getMessage().contains("pip install nvidia-nccl-cu13"), e.getMessage());

    Path site = tmp.resolve("venv/lib/python3.12/site-packages");
    Path dir = site.resolve("nvidia/nccl/lib");
    lib(dir, "libnccl.so.2");
    CudaLibraries.Loaded<String> l = search(List.of(tmp.resolve("venv")), "libnccl.so.2").load(CudaLibraries.NCCL);
    assertEquals(dir.resolve("libnccl.so.2").toString(), l.opened());
  }

  @Test
  void theHighestVersionIsTriedFirstAndAFailureFallsBackToTheNext() throws IOException {
    Path dir = tmp.resolve("cuda/lib64");
    lib(dir, "libcublas.so.12");
    lib(dir, "libcublas.so.13.1.0.3");
    lib(dir, "libcublas.so.13");
    lib(dir, "libcublasLt.so.13");
    env.put("CUDA_HOME", tmp.resolve("cuda").toString());
    CudaLibraries.Loaded<String> l = search(List.of(), "libcublas.so.12").load(CudaLibraries.CUBLAS);
    assertEquals(dir.resolve("libcublas.so.12").toString(), l.opened());
    List<String> mains = opened.stream().filter(p -> p.contains("libcublas.so")).toList();
    assertEquals(List.of(dir.resolve("libcublas.so.13").toString(),
        dir.resolve("libcublas.so.13.1.0.3").toString(), dir.resolve("libcublas.so.12").toString()), mains);
  }

  @Test
  void aFileTheLoaderRejectsIsReportedWithTheLoadersOwnError() throws IOException {
    Path named = tmp.resolve("broken");
    lib(named, "libnvrtc.so.13"); // empty: not a shared object
    props.put(CudaLibraries.PATH_PROPERTY, named.toString());
    CudaLibraries<NativeLibrary> real = new CudaLibraries<>(env::get, props::get, List.of(toolkitDefault()), List.of(), name -> {
      if (!name.startsWith("/")) {
        throw new UnsatisfiedLinkError("Unable to load library '" + name + "':\n" + name + ": not here");
      }
      return NativeLibrary.getInstance(name);
    });
    DeviceUnavailableException e =
        assertThrows(DeviceUnavailableException.class, () -> real.load(CudaLibraries.NVRTC));
    String line = e.getMessage().lines().filter(s -> s.contains(named + "/libnvrtc.so.13")).findFirst().orElse("");
    assertTrue(line.contains("(-Dmlxarena.cuda.libraryPath): ") && line.length() > 60,
        "the dlopen error for the broken file: " + e.getMessage());
  }

  @Test
  void onThisMachineNvrtcCublasAndNcclEitherLoadOrSayWhere() {
    for (CudaLibraries.Spec spec : List.of(CudaLibraries.NVRTC, CudaLibraries.CUBLAS, CudaLibraries.NCCL)) {
      try {
        CudaLibraries.system().load(spec);
      } catch (DeviceUnavailableException e) {
        assertTrue(e.getMessage().startsWith(spec.title() + " could not be loaded"), e.getMessage());
        assertTrue(e.getMessage().contains("/usr/local/cuda/lib64"), e.getMessage());
        assertTrue(e.getMessage().contains("the system loader: " + spec.names().get(0)), e.getMessage());
      }
    }
  }
}
