"""Badge printing: layout, ESC/POS backends, status and an emulator. A leaf library: nothing of Flask or ours.

>>> from printers import BadgeData, render_badge, make_printer
>>> printer = make_printer("kiosk-1", {"backend": "network", "host": "10.0.0.21"})
>>> printer.print_badge(render_badge(BadgeData("Ada", "FULL", "Expo"), width=printer.width).image, job_name="j1")
"""

from .badge import BadgeData, RenderResult, badge_png, render_badge
from .backends import make_printer
from .emulator import PrinterEmulator, ReceivedJob
from .errors import (CODES, CoverOpen, PaperOut, PrinterConfigError, PrinterError, PrinterOffline,
                     PrintNotConfirmed, StatusUnknown)
from .printer import BadgePrinter
from .raster import decode_raster, job_bytes
from .status import PrinterStatus, parse_status

__all__ = [
    "BadgeData", "RenderResult", "render_badge", "badge_png", "make_printer", "BadgePrinter", "PrinterStatus",
    "PrinterError", "PrinterOffline", "PaperOut", "CoverOpen", "StatusUnknown", "PrintNotConfirmed",
    "PrinterConfigError", "PrinterEmulator", "ReceivedJob", "decode_raster", "job_bytes", "parse_status", "CODES",
]
