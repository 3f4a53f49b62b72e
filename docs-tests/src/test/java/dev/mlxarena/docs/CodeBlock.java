package dev.mlxarena.docs;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One fenced code block of a Markdown file: its info string split into the language (the first
 * word, lower case) and an optional name (the rest, {@code pom.xml} in {@code ```xml pom.xml}), the
 * line of its first content line, and its content with the fence's indentation removed.
 */
final class CodeBlock {
  private static final Pattern OPENING = Pattern.compile("^( {0,3})(`{3,}|~{3,})\\s*([^`]*?)\\s*$");

  final String file;
  final int line;
  final String language;
  final String name;
  final List<String> lines;

  private CodeBlock(String file, int line, String language, String name, List<String> lines) {
    this.file = file;
    this.line = line;
    this.language = language;
    this.name = name;
    this.lines = List.copyOf(lines);
  }

  /**
   * The fenced blocks of {@code markdown}, in order (CommonMark: a fence of three or more backticks
   * or tildes, indented by up to three spaces, closed by a fence of the same character at least as
   * long; an unclosed block runs to the end).
   */
  static List<CodeBlock> parse(String file, List<String> markdown) {
    List<CodeBlock> blocks = new ArrayList<>();
    for (int i = 0; i < markdown.size(); i++) {
      Matcher open = OPENING.matcher(markdown.get(i));
      if (!open.matches()) {
        continue;
      }
      int indent = open.group(1).length();
      String fence = open.group(2);
      String[] info = open.group(3).split("\\s+", 2);
      Pattern closing = Pattern.compile("^ {0,3}" + Pattern.quote(fence.substring(0, 1)) + "{"
          + fence.length() + ",}\\s*$");
      List<String> content = new ArrayList<>();
      int start = i + 1;
      for (i = start; i < markdown.size() && !closing.matcher(markdown.get(i)).matches(); i++) {
        content.add(unindent(markdown.get(i), indent));
      }
      blocks.add(new CodeBlock(file, start + 1, info[0].toLowerCase(Locale.ROOT),
          info.length > 1 ? info[1] : "", content));
    }
    return blocks;
  }

  private static String unindent(String line, int indent) {
    int n = 0;
    while (n < indent && n < line.length() && line.charAt(n) == ' ') {
      n++;
    }
    return line.substring(n);
  }

  String text() {
    return String.join("\n", lines) + "\n";
  }

  /** Where the block is, as {@code README.md:153 (java)}. */
  @Override
  public String toString() {
    String info = name.isEmpty() ? language : language + " " + name;
    return file + ":" + line + " (" + (info.isEmpty() ? "no language" : info) + ")";
  }
}
