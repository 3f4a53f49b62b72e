package dev.mlxarena.metal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How {@link Transfers#cut} splits a range around 4-byte words. */
class TransfersTest {

  private record Piece(long from, long to, boolean whole) {}

  private static List<Piece> cut(long offset, long length) {
    List<Piece> pieces = new ArrayList<>();
    Transfers.cut(offset, length, (from, to, whole) -> pieces.add(new Piece(from, to, whole)));
    return pieces;
  }

  @Test
  void everyRangeIsCoveredOnceByWholeWordsAndAtMostTwoPartialWords() {
    for (long offset = 0; offset < 13; offset++) {
      for (long length = 1; length < 19; length++) {
        List<Piece> pieces = cut(offset, length);
        String where = "[" + offset + ", +" + length + "): " + pieces;
        long at = offset;
        int partial = 0;
        int whole = 0;
        for (Piece p : pieces) {
          assertEquals(at, p.from(), "pieces must follow each other: " + where);
          assertTrue(p.from() < p.to(), "no empty piece: " + where);
          if (p.whole()) {
            whole++;
            assertEquals(0, p.from() % 4, "whole words start aligned: " + where);
            assertEquals(0, p.to() % 4, "whole words end aligned: " + where);
          } else {
            partial++;
            assertEquals(p.from() / 4, (p.to() - 1) / 4, "a partial piece stays in one word: " + where);
            assertTrue(p.to() - p.from() < 4, "a partial piece is not a whole word: " + where);
          }
          at = p.to();
        }
        assertEquals(offset + length, at, "the pieces cover the range: " + where);
        assertTrue(partial <= 2 && whole <= 1, where);
      }
    }
  }

  @Test
  void alignedRangesAreOneBlit() {
    assertEquals(List.of(new Piece(8, 24, true)), cut(8, 16));
    assertEquals(List.of(new Piece(1, 3, false)), cut(1, 2));
    assertEquals(List.of(new Piece(0, 776, true), new Piece(776, 777, false)), cut(0, 777));
  }
}
