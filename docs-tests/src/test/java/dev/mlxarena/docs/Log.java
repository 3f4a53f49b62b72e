package dev.mlxarena.docs;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** The README's logger, with SLF4J's {@code {}} placeholders: it keeps the lines it is given. */
public final class Log {
  private final List<String> lines = new CopyOnWriteArrayList<>();

  /** Logs {@code format} with each {@code {}} replaced by the next argument. */
  public void info(String format, Object... args) {
    StringBuilder line = new StringBuilder();
    int from = 0;
    for (Object arg : args) {
      int at = format.indexOf("{}", from);
      if (at < 0) {
        break;
      }
      line.append(format, from, at).append(arg);
      from = at + 2;
    }
    lines.add(line.append(format.substring(from)).toString());
  }

  /** What was logged so far, from any thread. */
  public List<String> lines() {
    return List.copyOf(lines);
  }

  @Override
  public String toString() {
    return String.join("\n", lines);
  }
}
