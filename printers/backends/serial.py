"""Serial backend: python-escpos's Serial opens the port; the job protocol is the shared two-way one."""

from __future__ import annotations

from ..errors import PrinterConfigError, PrinterOffline
from ..printer import StreamPrinter, read_within

CHUNK = 4096


class SerialConnection:
    """An open serial port (a pyserial ``Serial``), for one job."""

    def __init__(self, port, io_timeout: float) -> None:
        self.port = port
        self.io_timeout = io_timeout

    def write(self, data: bytes) -> int:
        """Write everything within the io timeout per chunk (OSError.sent_bytes says how much went out)."""
        total = 0
        self.port.write_timeout = self.io_timeout
        try:
            for start in range(0, len(data), CHUNK):
                total += self.port.write(data[start:start + CHUNK]) or 0
        except Exception as exc:  # pyserial raises SerialTimeoutException / SerialException (OSError subclasses)
            error = exc if isinstance(exc, OSError) else OSError(str(exc))
            error.sent_bytes = total
            raise error from exc
        return total

    def read(self, count: int, timeout: float) -> bytes:
        """Up to ``count`` bytes within ``timeout`` seconds."""
        def read(wanted: int, left: float) -> bytes:
            self.port.timeout = left
            return self.port.read(wanted)

        return read_within(count, timeout, read)

    def close(self, drain_timeout: float) -> None:
        """Wait until every byte left the port (the tail of the job), then close it."""
        try:
            self.port.flush()
        finally:
            self.port.close()


class SerialPrinter(StreamPrinter):
    """An ESC/POS printer on a serial port (RS-232, or a USB serial adapter)."""

    def __init__(self, name: str, *, devfile: str, baudrate: int = 9600, **options) -> None:
        super().__init__(name, **options)
        self.devfile = devfile
        self.baudrate = baudrate

    def _open(self) -> SerialConnection:
        """Open the port through python-escpos.

        :raise PrinterOffline: the port cannot be opened.
        """
        try:
            from escpos.exceptions import DeviceNotFoundError
            from escpos.printer import Serial
        except ImportError as exc:  # pragma: no cover - pyserial is a dependency
            raise PrinterConfigError(f"serial printing needs pyserial: {exc}") from exc
        printer = Serial(devfile=self.devfile, baudrate=self.baudrate, timeout=self.io_timeout,
                         profile=self.profile)
        try:
            printer.open()
        except DeviceNotFoundError as exc:
            raise PrinterOffline(f"cannot open serial printer {self.name!r} on {self.devfile}: {exc}") from exc
        port = printer.device
        printer._device = False  # the port is ours now: python-escpos must not close it behind our back
        return SerialConnection(port, self.io_timeout)
