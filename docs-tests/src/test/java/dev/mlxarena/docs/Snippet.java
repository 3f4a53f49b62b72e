package dev.mlxarena.docs;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A README code block made into a compilable class, {@code readme.Readme<line>}, that extends
 * {@link ReadmeFixture}. Statements become the body of {@code run()}; a block whose first line of
 * code declares a method or type (or starts with an annotation) becomes the class body. Imports at
 * the top of a block move above the class. Every line of the block keeps its place relative to
 * the others, so a compiler's line number maps back to the README's ({@link #where}).
 */
final class Snippet {
  private static final List<String> JAVA_IMPORTS = List.of(
      "dev.mlxarena.*", "dev.mlxarena.spi.*", "dev.mlxarena.host.*", "dev.mlxarena.reactive.*",
      "dev.mlxarena.metal.*", "dev.mlxarena.cuda.*", "dev.mlxarena.micrometer.*",
      "dev.mlxarena.docs.*", "io.micrometer.core.instrument.*",
      "io.micrometer.core.instrument.binder.*", "reactor.core.publisher.*", "java.time.*",
      "java.util.*");
  private static final List<String> KOTLIN_IMPORTS = List.of(
      "dev.mlxarena.*", "dev.mlxarena.spi.*", "dev.mlxarena.host.*", "dev.mlxarena.reactive.*",
      "dev.mlxarena.metal.*", "dev.mlxarena.cuda.*", "dev.mlxarena.kotlin.*",
      "dev.mlxarena.docs.*", "kotlinx.coroutines.*", "kotlinx.coroutines.flow.*",
      "kotlinx.coroutines.reactive.asFlow");
  private static final Pattern JAVA_MEMBER = Pattern.compile(
      "^(@|((public|protected|private|static|final|abstract)\\s+)*(class|interface|record|enum)\\b"
          + "|[\\w<>\\[\\],.? ]+\\s+\\w+\\s*\\([^=]*\\)\\s*(throws\\s+[\\w., ]+)?\\{?\\s*$)");
  private static final Pattern KOTLIN_MEMBER = Pattern.compile(
      "^(@|((public|internal|private|inline|suspend|data|abstract|open)\\s+)*"
          + "(fun|class|object|interface)\\b)");

  final CodeBlock block;
  final String className;
  final String fileName;
  final String source;
  /** Whether the block declares members rather than statements. */
  final boolean members;
  private final int firstLine;

  private Snippet(CodeBlock block, String fileName, String source, boolean members, int firstLine) {
    this.block = block;
    this.className = "Readme" + block.line;
    this.fileName = fileName;
    this.source = source;
    this.members = members;
    this.firstLine = firstLine;
  }

  static Snippet java(CodeBlock block) {
    String name = "Readme" + block.line;
    Split split = Split.of(block, JAVA_MEMBER, "import ");
    List<String> out = new ArrayList<>(List.of("package readme;", ""));
    JAVA_IMPORTS.forEach(i -> out.add("import " + i + ";"));
    out.addAll(split.imports);
    out.add("public final class " + name + " extends ReadmeFixture {");
    if (!split.members) {
      out.add("@Override protected void run() throws Exception {");
    }
    int first = out.size() + 1;
    out.addAll(split.body);
    out.add(split.members ? "}" : "}}");
    return new Snippet(block, name + ".java", String.join("\n", out) + "\n", split.members, first);
  }

  static Snippet kotlin(CodeBlock block) {
    String name = "Readme" + block.line;
    Split split = Split.of(block, KOTLIN_MEMBER, "import ");
    List<String> out = new ArrayList<>(List.of("package readme", ""));
    KOTLIN_IMPORTS.forEach(i -> out.add("import " + i));
    out.addAll(split.imports);
    out.add("class " + name + " : ReadmeFixture() {");
    if (!split.members) {
      out.add("override fun run() {");
    }
    int first = out.size() + 1;
    out.addAll(split.body);
    out.add(split.members ? "}" : "}}");
    return new Snippet(block, name + ".kt", String.join("\n", out) + "\n", split.members, first);
  }

  /** The README place of line {@code line} of the generated source. */
  String where(long line) {
    long n = line - firstLine;
    return n >= 0 && n < block.lines.size()
        ? block.file + ":" + (block.line + n)
        : block + ", line " + line + " of the generated " + fileName;
  }

  /** The text of line {@code line} of the generated source. */
  String line(long line) {
    List<String> lines = source.lines().collect(Collectors.toList());
    return line >= 1 && line <= lines.size() ? lines.get((int) line - 1).strip() : "";
  }

  /** A block's leading imports, and the rest with those lines left blank. */
  private static final class Split {
    final List<String> imports = new ArrayList<>();
    final List<String> body = new ArrayList<>();
    boolean members;

    static Split of(CodeBlock block, Pattern member, String importKeyword) {
      Split s = new Split();
      boolean leading = true;
      for (String line : block.lines) {
        String code = line.strip();
        if (leading && code.startsWith(importKeyword)) {
          s.imports.add(code);
          s.body.add("");
          continue;
        }
        if (leading && !code.isEmpty() && !code.startsWith("//")) {
          leading = false;
          s.members = member.matcher(code).find();
        }
        s.body.add(line);
      }
      return s;
    }
  }
}
