"""Fixtures of the printers tests: emulators on loopback, badge data, fast printer options."""

from __future__ import annotations

import pytest

from printers import BadgeData, PrinterEmulator, make_printer

#: Short timeouts: a fault costs a test well under a second, not the 3 s / 10 s of production.
FAST = {"connect_timeout": 0.5, "io_timeout": 0.5}
CODE = "B1" + "0123456789ABCDEFGHJKMNPQRS"


@pytest.fixture
def badge() -> BadgeData:
    """A full-conference badge with every field filled."""
    return BadgeData(badge_name="Ada Lovelace", band_text="FULL CONFERENCE", event_name="Annual Conference and Expo",
                     code=CODE, title="Director of Public Works", organization="City of Sacramento",
                     band_color="#1f4e9a", serial="000123")


@pytest.fixture
def emulator():
    """A running printer emulator on a free loopback port, stopped after the test."""
    with PrinterEmulator() as running:
        yield running


@pytest.fixture
def network_printer(emulator):
    """Factory: a network printer pointed at the emulator (short timeouts unless overridden)."""

    def make(**options):
        return make_printer("emulated", {"backend": "network", "host": "127.0.0.1", "port": emulator.port,
                                         **FAST, **options})

    return make
