"""Preview backend: each badge saved as <directory>/<job_name>.png (the demo's printer)."""

from __future__ import annotations

import os
import re
import tempfile

from PIL import Image

from ..badge import image_png
from ..errors import PrinterConfigError, PrinterOffline
from ..printer import BadgePrinter

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class PreviewPrinter(BadgePrinter):
    """Writes PNGs atomically (temp file + rename), so a reader never sees half a badge."""

    def __init__(self, name: str, *, directory: str, **options) -> None:
        super().__init__(name, **options)
        self.directory = directory

    def _print(self, image: Image.Image, job_name: str) -> None:
        if not _SAFE_NAME.match(job_name) or ".." in job_name:
            raise PrinterConfigError(f"job name {job_name!r} is not a safe file name")
        data = image_png(image)
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)  # badges carry names and codes
            fd, temp = tempfile.mkstemp(prefix=f".{job_name}.", suffix=".tmp", dir=self.directory)
        except OSError as exc:
            raise PrinterOffline(f"cannot write to {self.directory}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as out:  # mkstemp made it 0600
                out.write(data)  # no fsync: the rename is what makes it atomic for readers, and fsync costs ms
            os.replace(temp, os.path.join(self.directory, f"{job_name}.png"))
        except OSError as exc:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise PrinterOffline(f"cannot write badge {job_name} to {self.directory}: {exc}") from exc
