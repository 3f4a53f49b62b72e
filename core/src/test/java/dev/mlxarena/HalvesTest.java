package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HalvesTest {
  @Test
  void everyF16BitPatternRoundTripsThroughFloat() {
    for (int bits = 0; bits < 0x10000; bits++) {
      float f = Halves.f16ToFloat((short) bits);
      if (Float.isNaN(f)) {
        assertTrue(Float.isNaN(Halves.f16ToFloat(Halves.floatToF16(f))));
      } else {
        assertEquals((short) bits, Halves.floatToF16(f), "bits " + Integer.toHexString(bits));
      }
    }
  }

  @Test
  void f16RoundsToNearestEvenAndSaturatesToInfinity() {
    assertEquals(1.0f, Halves.f16ToFloat(Halves.floatToF16(1.0f + 0x1p-11f)), "tie to even: down");
    assertEquals(1.0f + 0x1p-9f, Halves.f16ToFloat(Halves.floatToF16(1.0f + 0x1p-10f + 0x1p-11f)));
    assertEquals(Float.POSITIVE_INFINITY, Halves.f16ToFloat(Halves.floatToF16(70000f)));
    assertEquals(0x1p-24f, Halves.f16ToFloat(Halves.floatToF16(0x1p-24f)), "smallest subnormal");
    assertEquals(0f, Halves.f16ToFloat(Halves.floatToF16(0x1p-26f)));
  }

  @Test
  void bf16KeepsTheTopHalfWithRounding() {
    for (int bits = 0; bits < 0x10000; bits++) {
      float f = Halves.bf16ToFloat((short) bits);
      if (!Float.isNaN(f)) {
        assertEquals((short) bits, Halves.floatToBf16(f));
      }
    }
    assertEquals(1.0f, Halves.bf16ToFloat(Halves.floatToBf16(1.0f + 0x1p-8f)), "tie to even");
    assertTrue(Float.isNaN(Halves.bf16ToFloat(Halves.floatToBf16(Float.NaN))));
  }
}
