package dev.mlxarena.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.jspecify.annotations.Nullable;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;
import org.xml.sax.SAXException;

/**
 * Checks the README's dependency blocks against the build: every {@code dev.mlxarena} artifact
 * they name is one the BOM manages (with its classifier, if any), or the BOM itself imported as a
 * {@code pom}, and every version they give is the project's.
 */
final class InstallCoordinates {
  private static final String GROUP = "dev.mlxarena";
  private static final String BOM = "mlx-arena-bom";
  /** {@code "dev.mlxarena:artifact[:version[:classifier]]"}. */
  private static final Pattern GRADLE_STRING =
      Pattern.compile("\"" + Pattern.quote(GROUP) + ":([\\w.-]+)(?::([\\w.-]*))?(?::([\\w.-]+))?\"");
  /** {@code ("dev.mlxarena", "artifact", ...)}, with named {@code version} and {@code classifier}. */
  private static final Pattern GRADLE_NAMED =
      Pattern.compile("\\(\\s*\"" + Pattern.quote(GROUP) + "\"\\s*,\\s*\"([\\w.-]+)\"([^)]*)\\)");

  private InstallCoordinates() {}

  /** One dependency a block names: artifact, classifier and version, when given. */
  private static final class Named {
    final String artifact;
    final @Nullable String classifier;
    final @Nullable String version;

    Named(String artifact, @Nullable String classifier, @Nullable String version) {
      this.artifact = artifact;
      this.classifier = classifier == null || classifier.isEmpty() ? null : classifier;
      this.version = version == null || version.isEmpty() ? null : version;
    }

    String key() {
      return classifier == null ? artifact : artifact + ":" + classifier;
    }
  }

  /** A {@code xml pom.xml} block: {@code <dependency>} elements, in any number of top elements. */
  static void checkMaven(CodeBlock block) throws Exception {
    Document doc = parse("<block>" + block.text() + "</block>");
    NodeList dependencies = doc.getElementsByTagName("dependency");
    List<Named> named = new ArrayList<>();
    for (int i = 0; i < dependencies.getLength(); i++) {
      Element d = (Element) dependencies.item(i);
      if (!GROUP.equals(child(d, "groupId"))) {
        continue;
      }
      Named n = new Named(
          String.valueOf(child(d, "artifactId")), child(d, "classifier"), child(d, "version"));
      if (n.artifact.equals(BOM)) {
        assertEquals("pom", child(d, "type"), block + ": the BOM is imported as type pom");
        assertEquals("import", child(d, "scope"), block + ": the BOM is imported with scope import");
      }
      named.add(n);
    }
    check(block, named);
  }

  /**
   * A {@code kotlin build.gradle.kts} block: dependencies as {@code
   * "dev.mlxarena:artifact[:version[:classifier]]"} or {@code ("dev.mlxarena", "artifact",
   * version = ..., classifier = ...)}.
   */
  static void checkGradle(CodeBlock block) throws Exception {
    List<Named> named = new ArrayList<>();
    Matcher string = GRADLE_STRING.matcher(block.text());
    while (string.find()) {
      named.add(new Named(string.group(1), string.group(3), string.group(2)));
    }
    Matcher call = GRADLE_NAMED.matcher(block.text());
    while (call.find()) {
      named.add(new Named(
          call.group(1), argument(call.group(2), "classifier"), argument(call.group(2), "version")));
    }
    check(block, named);
  }

  private static @Nullable String argument(String arguments, String name) {
    Matcher m = Pattern.compile("\\b" + name + "\\s*=\\s*\"([^\"]*)\"").matcher(arguments);
    return m.find() ? m.group(1) : null;
  }

  private static void check(CodeBlock block, List<Named> named) throws Exception {
    assertFalse(named.isEmpty(), block + " names no " + GROUP + " artifact");
    Set<String> published = published();
    String version = System.getProperty("mlxarena.version");
    for (Named n : named) {
      assertTrue(n.artifact.equals(BOM) || published.contains(n.key()),
          block + ": " + GROUP + ":" + n.key() + " is not published; the BOM has " + published);
      if (n.version != null) {
        assertEquals(version, n.version, block + ": the version of " + n.key());
      }
    }
  }

  /** What the BOM manages, as artifactId or artifactId:classifier. */
  static Set<String> published() throws Exception {
    Document bom = parse(Files.readString(ReadmeBlocksTest.ROOT.resolve("bom").resolve("pom.xml")));
    NodeList dependencies = bom.getElementsByTagName("dependency");
    Set<String> keys = new LinkedHashSet<>();
    for (int i = 0; i < dependencies.getLength(); i++) {
      Element d = (Element) dependencies.item(i);
      keys.add(new Named(String.valueOf(child(d, "artifactId")), child(d, "classifier"), null).key());
    }
    return keys;
  }

  private static @Nullable String child(Element parent, String name) {
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element && n.getNodeName().equals(name)) {
        return n.getTextContent().strip();
      }
    }
    return null;
  }

  private static Document parse(String xml)
      throws ParserConfigurationException, SAXException, IOException {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    return factory.newDocumentBuilder().parse(new InputSource(new StringReader(xml)));
  }
}
