"""ESC/POS real-time status (DLE EOT n): the queries, their answers and what they mean for a print job."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CoverOpen, PaperOut, PrinterOffline, StatusUnknown

DLE_EOT = b"\x10\x04"
#: DLE EOT 1 (printer), 2 (offline cause), 4 (roll paper sensor), sent together; each answers one byte, in order.
STATUS_QUERY = DLE_EOT + b"\x01" + DLE_EOT + b"\x02" + DLE_EOT + b"\x04"

# Every real-time status byte has bit 0 = 0, bit 1 = 1, bit 4 = 1 and bit 7 = 0: a byte that does not is not an
# answer to our query (noise, an automatic status back, another printer's protocol) and must not count as one.
_FIXED_MASK = 0b1001_0011
_FIXED_BITS = 0b0001_0010

OFFLINE = 0x08            # DLE EOT 1, bit 3
COVER_OPEN = 0x04         # DLE EOT 2, bit 2
PAPER_END_STOP = 0x20     # DLE EOT 2, bit 5: printing stopped because the paper ran out
ERROR = 0x40              # DLE EOT 2, bit 6: an error occurred (cutter, head temperature, ...)
NEAR_END = 0x0C           # DLE EOT 4, bits 2-3
PAPER_END = 0x60          # DLE EOT 4, bits 5-6


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said about itself."""

    online: bool
    cover_open: bool
    paper_out: bool
    paper_near_end: bool

    @property
    def ready(self) -> bool:
        """True when a badge can print now (near end still prints)."""
        return self.online and not self.cover_open and not self.paper_out


def is_status_byte(value: int) -> bool:
    """True if ``value`` has the fixed bits every DLE EOT answer has."""
    return value & _FIXED_MASK == _FIXED_BITS


def parse_status(answer: bytes) -> PrinterStatus:
    """Turn the three answers to STATUS_QUERY into a PrinterStatus.

    :raise StatusUnknown: fewer than three bytes, or a byte that is not a status answer.
    """
    if len(answer) != 3 or not all(is_status_byte(b) for b in answer):
        raise StatusUnknown(f"no valid status answer (got {answer.hex() or 'nothing'})")
    printer, cause, paper = answer
    paper_out = bool(paper & PAPER_END) or bool(cause & PAPER_END_STOP)
    return PrinterStatus(
        online=not printer & OFFLINE and not cause & ERROR,
        cover_open=bool(cause & COVER_OPEN),
        paper_out=paper_out,
        paper_near_end=bool(paper & NEAR_END) or paper_out,
    )


def raise_for_status(status: PrinterStatus, *, sent: bool) -> None:
    """Raise the error that explains why ``status`` cannot print (the most specific cause first).

    :raise CoverOpen, PaperOut, PrinterOffline: when the printer is not ready.
    """
    if status.cover_open:
        raise CoverOpen("printer cover is open", sent=sent)
    if status.paper_out:
        raise PaperOut("printer is out of paper", sent=sent)
    if not status.online:
        raise PrinterOffline("printer reports itself offline", sent=sent)


def encode_status(*, offline: bool = False, cover_open: bool = False, paper_out: bool = False,
                  near_end: bool = False, error: bool = False) -> dict[int, int]:
    """The answer byte a printer in this state gives to DLE EOT 1, 2, 3 and 4 (used by the emulator)."""
    # A real printer is offline whenever its cover is open or its paper has run out.
    printer = _FIXED_BITS | (OFFLINE if offline or cover_open or paper_out or error else 0)
    cause = _FIXED_BITS | (COVER_OPEN if cover_open else 0) | (PAPER_END_STOP if paper_out else 0) \
        | (ERROR if error else 0)
    paper = _FIXED_BITS | (NEAR_END if near_end or paper_out else 0) | (PAPER_END if paper_out else 0)
    return {1: printer, 2: cause, 3: _FIXED_BITS, 4: paper}
