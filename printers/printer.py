"""The printer interface every backend implements, and the job protocol shared by the two-way backends.

A two-way backend (network, USB, serial) only has to open a :class:`Connection`; the job itself is always the
same: status first, the job bytes, status again to confirm, then a graceful close.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from PIL import Image

from .errors import PrinterConfigError, PrinterError, PrinterOffline, PrintNotConfirmed, StatusUnknown
from .raster import job_bytes
from .status import STATUS_QUERY, PrinterStatus, parse_status, raise_for_status

log = logging.getLogger(__name__)

DEFAULT_PROFILE = "TM-T88V"
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_IO_TIMEOUT = 10.0
#: A printer answers a real-time status query at once, whatever it is doing: waiting longer only delays the kiosk.
STATUS_TIMEOUT = 2.0


class Connection(Protocol):
    """One open channel to a printer, for one job."""

    def write(self, data: bytes) -> int:
        """Write ``data``; return how many bytes went out before a failure (raises OSError with .sent_bytes)."""

    def read(self, count: int, timeout: float) -> bytes:
        """Read up to ``count`` bytes, waiting at most ``timeout`` seconds in all; fewer bytes = no more came."""

    def close(self, drain_timeout: float) -> None:
        """Close gracefully: tell the printer the job is complete, let it take every byte, then release."""

    # Optional: ``abort()`` cuts the channel at once, from another thread, so that a write or read in progress
    # fails with OSError (the network backend has it; USB and serial jobs end on their own timeouts).


class BadgePrinter:
    """A configured printer: ``status()`` and ``print_badge()``, one job at a time."""

    #: Whether the printer can answer status queries (and so confirm a job).
    supports_status = False

    def __init__(self, name: str, *, profile: str = DEFAULT_PROFILE, width: int,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, io_timeout: float = DEFAULT_IO_TIMEOUT) -> None:
        self.name = name
        self.profile = profile
        self.width = width
        self.connect_timeout = connect_timeout
        self.io_timeout = io_timeout
        #: The status read during the last job or status() call (None before the first, or when not supported).
        self.last_status: PrinterStatus | None = None
        # One job at a time per printer: two interleaved jobs on one head would print garbage.
        self._lock = threading.Lock()
        #: The channel of the job in flight, for abort() (None between jobs and for one-way backends).
        self._connection: Connection | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} width={self.width}>"

    def status(self) -> PrinterStatus:
        """Ask the printer how it is.

        :raise StatusUnknown: no (valid) answer.
        :raise PrinterOffline: it cannot be reached.
        """
        raise StatusUnknown(f"printer {self.name!r} cannot report its status")

    def print_badge(self, image: Image.Image, *, job_name: str) -> None:
        """Print one badge image.

        :raise PrinterError: with ``.sent`` False when nothing went out (safe to retry), True otherwise.
        """
        self._check_image(image)
        with self._lock:
            self._print(image, job_name)

    def _print(self, image: Image.Image, job_name: str) -> None:
        raise NotImplementedError

    def abort(self) -> bool:
        """Cut the job in flight short, from another thread (the caller lost its right to this printer).

        The job then fails with ``sent`` telling whether bytes went out, as for any broken connection. Returns
        False when there was nothing to cut: no job in flight, or a backend that cannot be interrupted (its
        own timeouts end the job).
        """
        connection = self._connection
        abort = getattr(connection, "abort", None)
        if abort is None:
            return False
        try:
            abort()
        except OSError as exc:
            log.debug("printer %s: abort failed: %s", self.name, exc)
        return True

    def _check_image(self, image: Image.Image) -> None:
        """Refuse, before anything is sent, an image the head cannot print."""
        if image.width > self.width:
            raise PrinterConfigError(f"badge is {image.width} dots wide; printer {self.name!r} prints {self.width}")

    def job_bytes(self, image: Image.Image) -> bytes:
        """The ESC/POS bytes this printer is sent for ``image``."""
        return job_bytes(image, profile=self.profile)


class StreamPrinter(BadgePrinter):
    """A printer reached over a two-way byte stream (network, USB, serial): status, job, confirmation."""

    supports_status = True

    def _open(self) -> Connection:
        """Open the channel to the printer (within ``connect_timeout``).

        :raise PrinterOffline: it cannot be reached.
        """
        raise NotImplementedError

    def status(self) -> PrinterStatus:
        """Ask the printer how it is (DLE EOT 1, 2 and 4) over a fresh connection."""
        with self._lock:
            connection = self._open()
            try:
                return self._query(connection, timeout=min(self.io_timeout, STATUS_TIMEOUT), sent=False)
            finally:
                self._close(connection)

    def _query(self, connection: Connection, *, timeout: float, sent: bool) -> PrinterStatus:
        """Send the three status queries and parse the answers; no full answer in time = StatusUnknown."""
        try:
            connection.write(STATUS_QUERY)
            answer = connection.read(3, timeout)
        except OSError as exc:
            raise StatusUnknown(f"status query to {self.name!r} failed: {exc}", sent=sent) from exc
        try:
            status = parse_status(answer)
        except StatusUnknown as exc:
            exc.sent = sent
            raise
        self.last_status = status
        return status

    def _print(self, image: Image.Image, job_name: str) -> None:
        data = self.job_bytes(image)
        connection = self._open()
        self._connection = connection
        sent = done = False
        try:
            status = self._query(connection, timeout=min(self.io_timeout, STATUS_TIMEOUT), sent=False)
            raise_for_status(status, sent=False)
            try:
                connection.write(data)
            except OSError as exc:
                sent = getattr(exc, "sent_bytes", 1) > 0
                if not sent:
                    raise PrinterOffline(f"printer {self.name!r} took no byte of job {job_name}: {exc}") from exc
                raise PrintNotConfirmed(f"printer {self.name!r} dropped job {job_name} mid-way: {exc}") from exc
            sent = True
            # The answer comes after the printer has read the whole job: the io timeout allows for that.
            try:
                after = self._query(connection, timeout=self.io_timeout, sent=True)
            except StatusUnknown as exc:
                raise PrintNotConfirmed(f"printer {self.name!r} did not confirm job {job_name}: {exc}") from exc
            raise_for_status(after, sent=True)
            log.info("printer %s: job %s sent (%d bytes) and confirmed", self.name, job_name, len(data))
            done = True
        except PrinterError as exc:
            exc.sent = exc.sent or sent
            raise
        finally:
            # After a failure the outcome is decided: waiting for a faulty printer to close only delays the kiosk.
            self._connection = None
            self._close(connection, drain=done)

    def _close(self, connection: Connection, *, drain: bool = True) -> None:
        try:
            connection.close(min(self.io_timeout, STATUS_TIMEOUT) if drain else 0.0)
        except OSError as exc:  # the job's outcome is already known; a failed close must not change it
            log.debug("printer %s: close failed: %s", self.name, exc)


def deadline_left(deadline: float) -> float:
    """Seconds left until ``deadline`` (monotonic), never negative."""
    return max(0.0, deadline - time.monotonic())


def read_within(count: int, timeout: float, read_chunk) -> bytes:
    """Up to ``count`` bytes within ``timeout`` seconds, in as many reads as the transport needs.

    ``read_chunk(wanted, seconds_left)`` is the transport's one read; it returns ``b""`` when the
    printer closed or stayed quiet, which ends the wait early.
    """
    deadline = time.monotonic() + timeout
    out = bytearray()
    while len(out) < count and (left := deadline_left(deadline)) > 0:
        chunk = read_chunk(count - len(out), left)
        if not chunk:
            break
        out += chunk
    return bytes(out[:count])
