"""USB backend: python-escpos's Usb finds and claims the device; the job protocol is the shared two-way one."""

from __future__ import annotations

from ..errors import PrinterConfigError, PrinterOffline
from ..printer import StreamPrinter, read_within

CHUNK = 4096


class UsbConnection:
    """A claimed USB printer (its bulk OUT and IN endpoints), for one job."""

    def __init__(self, printer, io_timeout: float) -> None:
        self.printer = printer  # escpos.printer.Usb, opened
        self.io_timeout = io_timeout

    def write(self, data: bytes) -> int:
        """Bulk-write everything, each chunk within the io timeout (OSError.sent_bytes says how much)."""
        device = self.printer.device
        total = 0
        try:
            for start in range(0, len(data), CHUNK):
                total += device.write(self.printer.out_ep, data[start:start + CHUNK], int(self.io_timeout * 1000))
        except Exception as exc:  # pyusb's USBError / USBTimeoutError are IOError subclasses
            error = exc if isinstance(exc, OSError) else OSError(str(exc))
            error.sent_bytes = total
            raise error from exc
        return total

    def read(self, count: int, timeout: float) -> bytes:
        """Up to ``count`` bytes from the IN endpoint within ``timeout`` seconds."""
        device = self.printer.device

        def read(_wanted: int, left: float) -> bytes:
            try:  # the IN endpoint answers in packets of up to 64 bytes
                return bytes(device.read(self.printer.in_ep, 64, max(1, int(left * 1000))))
            except Exception:  # a timeout on the IN endpoint: no (more) answer
                return b""

        return read_within(count, timeout, read)

    def close(self, drain_timeout: float) -> None:
        """Release the device (bulk writes have completed when write() returned)."""
        self.printer.close()


class UsbPrinter(StreamPrinter):
    """An ESC/POS printer on USB, found by vendor and product id."""

    def __init__(self, name: str, *, vendor_id: int, product_id: int, in_ep: int = 0x82, out_ep: int = 0x01,
                 **options) -> None:
        super().__init__(name, **options)
        self.vendor_id = vendor_id
        self.product_id = product_id
        self.in_ep = in_ep
        self.out_ep = out_ep

    def _open(self) -> UsbConnection:
        """Find and claim the device through python-escpos.

        :raise PrinterOffline: not plugged in, or not accessible.
        """
        try:
            from escpos.exceptions import DeviceNotFoundError, USBNotFoundError
            from escpos.printer import Usb
        except ImportError as exc:  # pragma: no cover - pyusb is a dependency
            raise PrinterConfigError(f"USB printing needs pyusb: {exc}") from exc
        printer = Usb(idVendor=self.vendor_id, idProduct=self.product_id, timeout=int(self.io_timeout * 1000),
                      in_ep=self.in_ep, out_ep=self.out_ep, profile=self.profile)
        try:
            printer.open()
        except (DeviceNotFoundError, USBNotFoundError) as exc:
            raise PrinterOffline(f"USB printer {self.name!r} ({self.vendor_id:04x}:{self.product_id:04x}) "
                                 f"not found: {exc}") from exc
        except Exception as exc:  # no libusb backend, permission denied, ...
            raise PrinterOffline(f"cannot open USB printer {self.name!r}: {exc}") from exc
        return UsbConnection(printer, self.io_timeout)
