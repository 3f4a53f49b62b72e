package dev.mlxarena.docs;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.jetbrains.kotlin.cli.common.ExitCode;
import org.jetbrains.kotlin.cli.jvm.K2JVMCompiler;

/**
 * Compiles a {@link Snippet} into a folder, in this JVM, against this module's test class path
 * (every published module and what it needs), with the project's settings: Java 17, Kotlin for
 * JVM 17 with JSpecify annotations read as strict types. Returns the errors, each at its README
 * line; none when it compiled.
 */
final class Compilers {
  private static final Pattern KOTLIN_MESSAGE =
      Pattern.compile("^.*\\.kt:(\\d+):\\d+: error: (.*)$", Pattern.MULTILINE);

  private Compilers() {}

  /** The test class path: Surefire's, which its booter jar's manifest hides from java.class.path. */
  static String classPath() {
    return System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
  }

  static List<String> compile(Snippet s, Path out) throws IOException {
    Files.createDirectories(out);
    Path file = Files.writeString(out.resolve(s.fileName), s.source);
    return s.fileName.endsWith(".kt") ? kotlin(List.of(s), List.of(file), out) : java(s, file, out);
  }

  /**
   * Compiles Kotlin snippets together into {@code out}, in one run of the compiler (a run costs
   * seconds, most of it starting up): whether all compiled. When one does not, none has classes,
   * and each is compiled alone for its own errors.
   */
  static boolean compileKotlinTogether(List<Snippet> snippets, Path out) throws IOException {
    Files.createDirectories(out);
    List<Path> files = new ArrayList<>();
    for (Snippet s : snippets) {
      files.add(Files.writeString(out.resolve(s.fileName), s.source));
    }
    return kotlin(snippets, files, out).isEmpty();
  }

  private static List<String> java(Snippet s, Path file, Path out) throws IOException {
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    try (StandardJavaFileManager files =
        javac.getStandardFileManager(diagnostics, Locale.ROOT, StandardCharsets.UTF_8)) {
      javac.getTask(null, files, diagnostics,
              List.of("--release", "17", "-proc:none", "-cp", classPath(), "-d", out.toString()),
              null, files.getJavaFileObjects(file))
          .call();
    }
    return diagnostics.getDiagnostics().stream()
        .filter(d -> d.getKind() == Diagnostic.Kind.ERROR)
        .map(d -> s.where(d.getLineNumber()) + ": " + d.getMessage(Locale.ROOT) + "\n    "
            + s.line(d.getLineNumber()))
        .collect(Collectors.toList());
  }

  /** Compiles {@code files}, the sources of {@code snippets}; the errors, mapped to the first's lines. */
  private static List<String> kotlin(List<Snippet> snippets, List<Path> files, Path out) {
    List<String> args = new ArrayList<>(List.of(
        "-d", out.toString(), "-classpath", classPath(), "-no-stdlib", "-no-reflect",
        "-jvm-target", "17", "-Xjspecify-annotations=strict"));
    files.forEach(f -> args.add(f.toString()));
    ByteArrayOutputStream messages = new ByteArrayOutputStream();
    ExitCode exit;
    try (PrintStream print = new PrintStream(messages, true, StandardCharsets.UTF_8)) {
      exit = new K2JVMCompiler().execFullPathsInMessages(print, args.toArray(new String[0]));
    }
    String text = messages.toString(StandardCharsets.UTF_8);
    if (exit == ExitCode.OK) {
      return List.of();
    }
    Snippet s = snippets.get(0);
    Matcher m = KOTLIN_MESSAGE.matcher(text);
    List<String> errors = m.results()
        .map(r -> s.where(Long.parseLong(r.group(1))) + ": " + r.group(2) + "\n    "
            + s.line(Long.parseLong(r.group(1))))
        .collect(Collectors.toList());
    return errors.isEmpty() ? List.of(s.block + ": kotlinc " + exit + "\n" + text) : errors;
  }
}
