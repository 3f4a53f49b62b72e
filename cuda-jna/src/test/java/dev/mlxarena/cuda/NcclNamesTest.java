package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.DType;
import org.junit.jupiter.api.Test;

/** What the NCCL binding decides without NCCL: versions, names, types, ids and its error messages. */
class NcclNamesTest {

  @Test
  void versionCodesReadAsNcclWritesThemBeforeAndAfter29() {
    assertEquals("2.27.5", Nccl.versionString(22705));
    assertEquals("2.19.3", Nccl.versionString(21903));
    assertEquals("2.8.4", Nccl.versionString(2804));
  }

  @Test
  void resultsHaveTheirNccl_hNames() {
    assertEquals("ncclSuccess", NcclNative.resultName(0));
    assertEquals("ncclInvalidArgument", NcclNative.resultName(4));
    assertEquals("ncclRemoteError", NcclNative.resultName(6));
    assertEquals("ncclTimeout", NcclNative.resultName(8));
    assertEquals("ncclResult 42", NcclNative.resultName(42));
  }

  @Test
  void dataTypesAreNccl_hsAndUnreducibleTypesAreRefusedByName() {
    assertEquals(7, Nccl.dataType(DType.F32));
    assertEquals(9, Nccl.dataType(DType.BF16));
    assertEquals(6, Nccl.dataType(DType.F16));
    assertEquals(2, Nccl.dataType(DType.I32));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Nccl.dataType(DType.U16));
    assertTrue(e.getMessage().contains("u16"), e.getMessage());
  }

  @Test
  void reductionsCarryNccl_hsCodes() {
    assertEquals(0, NcclOp.SUM.code);
    assertEquals(2, NcclOp.MAX.code);
    assertEquals(4, NcclOp.AVG.code);
  }

  @Test
  void aUniqueIdIs128BytesCopiedInAndOut() {
    byte[] b = new byte[128];
    b[0] = 7;
    NcclUniqueId id = NcclUniqueId.of(b);
    b[0] = 8;
    assertEquals(7, id.bytes()[0], "copied in");
    id.bytes()[1] = 9;
    assertEquals(0, id.bytes()[1], "copied out");
    assertArrayEquals(id.byValue().internal, id.bytes());
    assertEquals(id, NcclUniqueId.of(id.bytes()));
    assertNotEquals(id, NcclUniqueId.of(new byte[128]));
    assertThrows(IllegalArgumentException.class, () -> NcclUniqueId.of(new byte[64]));
  }

  @Test
  void aFailureNamesTheCallTheResultNcclsWordsItsLastErrorAndWhatWasAsked() {
    NcclException e = new NcclException("ncclAllReduce", 4, "invalid argument", "Invalid type 99", "8 elements on rank 0");
    assertEquals("ncclAllReduce failed: ncclInvalidArgument (4): invalid argument; last error: Invalid type 99"
        + " [8 elements on rank 0]", e.getMessage());
    assertEquals("ncclAllReduce", e.getCall());
    assertEquals(4, e.getResult());
    assertEquals("ncclCommDestroy failed: ncclInternalError (3): internal error",
        new NcclException("ncclCommDestroy", 3, "internal error", " ", "").getMessage());
  }
}
