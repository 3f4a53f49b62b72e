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
  /** How each language's class is written around a block. */
  private enum Language {
    JAVA(".java", ";", "public final class %s extends ReadmeFixture {",
        "@Override protected void run() throws Exception {",
        Pattern.compile("^(@|((public|protected|private|static|final|abstract)\\s+)*"
            + "(class|interface|record|enum)\\b"
            + "|[\\w<>\\[\\],.? ]+\\s+\\w+\\s*\\([^=]*\\)\\s*(throws\\s+[\\w., ]+)?\\{?\\s*$)"),
        List.of("dev.mlxarena.*", "dev.mlxarena.spi.*", "dev.mlxarena.host.*",
            "dev.mlxarena.reactive.*", "dev.mlxarena.metal.*", "dev.mlxarena.cuda.*",
            "dev.mlxarena.micrometer.*", "dev.mlxarena.docs.*", "io.micrometer.core.instrument.*",
            "io.micrometer.core.instrument.binder.*", "reactor.core.publisher.*", "java.time.*",
            "java.util.*")),
    KOTLIN(".kt", "", "class %s : ReadmeFixture() {", "override fun run() {",
        Pattern.compile("^(@|((public|internal|private|inline|suspend|data|abstract|open)\\s+)*"
            + "(fun|class|object|interface)\\b)"),
        List.of("dev.mlxarena.*", "dev.mlxarena.spi.*", "dev.mlxarena.host.*",
            "dev.mlxarena.reactive.*", "dev.mlxarena.metal.*", "dev.mlxarena.cuda.*",
            "dev.mlxarena.kotlin.*", "dev.mlxarena.docs.*", "kotlinx.coroutines.*",
            "kotlinx.coroutines.flow.*", "kotlinx.coroutines.reactive.asFlow"));

    final String extension;
    final String terminator;
    final String classHeader;
    final String runHeader;
    /** A first line of code that declares a member rather than starting a statement. */
    final Pattern member;
    final List<String> imports;

    Language(String extension, String terminator, String classHeader, String runHeader,
        Pattern member, List<String> imports) {
      this.extension = extension;
      this.terminator = terminator;
      this.classHeader = classHeader;
      this.runHeader = runHeader;
      this.member = member;
      this.imports = imports;
    }
  }

  final CodeBlock block;
  final String className;
  final String fileName;
  final String source;
  /** Whether the block declares members rather than statements. */
  final boolean members;
  private final int firstLine;

  private Snippet(CodeBlock block, Language language) {
    this.block = block;
    this.className = "Readme" + block.line;
    this.fileName = className + language.extension;
    Split split = Split.of(block, language.member);
    List<String> out = new ArrayList<>(List.of("package readme" + language.terminator, ""));
    language.imports.forEach(i -> out.add("import " + i + language.terminator));
    out.addAll(split.imports);
    out.add(String.format(language.classHeader, className));
    if (!split.members) {
      out.add(language.runHeader);
    }
    this.firstLine = out.size() + 1;
    out.addAll(split.body);
    out.add(split.members ? "}" : "}}");
    this.source = String.join("\n", out) + "\n";
    this.members = split.members;
  }

  static Snippet java(CodeBlock block) {
    return new Snippet(block, Language.JAVA);
  }

  static Snippet kotlin(CodeBlock block) {
    return new Snippet(block, Language.KOTLIN);
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

    static Split of(CodeBlock block, Pattern member) {
      Split s = new Split();
      boolean leading = true;
      for (String line : block.lines) {
        String code = line.strip();
        if (leading && code.startsWith("import ")) {
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
