/**
 * Tests of the documentation: every code block of the README compiled and run against the fixture
 * in this package, and the README's install coordinates and module names checked against the build.
 */
@NullMarked
package dev.mlxarena.docs;

import org.jspecify.annotations.NullMarked;
