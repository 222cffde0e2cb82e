"""File backend: the job's bytes written to a path (a device node such as /dev/usb/lp0, or a plain file)."""

from __future__ import annotations

import os

from PIL import Image

from ..errors import PrinterOffline, PrintNotConfirmed
from ..printer import BadgePrinter


class FilePrinter(BadgePrinter):
    """Writes each job's ESC/POS bytes to ``path``; one-way, so no status and no confirmation."""

    def __init__(self, name: str, *, path: str, **options) -> None:
        super().__init__(name, **options)
        self.path = path

    def _print(self, image: Image.Image, job_name: str) -> None:
        data = self.job_bytes(image)
        try:
            # Append: on a device node each write is a job; on a plain file the jobs are kept in order.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise PrinterOffline(f"cannot open {self.path} for printer {self.name!r}: {exc}") from exc
        written = 0
        try:
            view = memoryview(data)
            while written < len(data):
                written += os.write(fd, view[written:])
        except OSError as exc:
            if written == 0:
                raise PrinterOffline(f"cannot write to {self.path}: {exc}") from exc
            raise PrintNotConfirmed(f"write to {self.path} failed after {written} bytes: {exc}") from exc
        finally:
            os.close(fd)
