package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.spi.Device;
import org.junit.jupiter.api.Test;

class DevicesTest {
  @Test
  void hostIsAlwaysAvailable() {
    try (Device d = Devices.open("host")) {
      assertEquals("host", d.name());
    }
    try (Device d = Devices.systemDefault()) {
      assertNotNull(d.name());
    }
    assertTrue(Devices.backendNames().contains("host"));
  }

  @Test
  void unknownBackendsAreNamedWithTheKnownOnes() {
    DeviceUnavailableException e =
        assertThrows(DeviceUnavailableException.class, () -> Devices.open("tpu"));
    assertTrue(e.getMessage().contains("'tpu'") && e.getMessage().contains("host"), e.getMessage());
  }
}
