"""An ESC/POS network printer on loopback: answers real-time status, records jobs, and fails on demand.

Each TCP connection is parsed command by command (``raster.EscPosParser``), so a status query is answered when
it arrives, even between two parts of a job, and a DLE EOT byte pattern inside raster data is not one. A job is
recorded when its connection ends (or when a ``stall``/``drop_after`` fault cuts it); a connection that only asked
for status is not a job. Each job recorded is logged in one line (``describe``) and, with ``save_dir``, written as
a PNG.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from PIL import Image

from .raster import EscPosParser
from .status import encode_status

log = logging.getLogger(__name__)

#: The faults ``set_fault`` accepts (None = a healthy printer), each with what it does. The one list: the
#: ``lanyard printer-emulator --fault`` choices and the tests import it from here.
FAULTS = {
    "offline": "reports itself offline; prints nothing",
    "paper_out": "reports paper out before the job; prints nothing",
    "near_end": "prints, and reports paper near its end",
    "cover_open": "reports its cover open; prints nothing",
    "silent": "answers no status query",
    "stall": "takes --after-bytes bytes of a job, then reads nothing more and answers nothing",
    "drop_after": "takes --after-bytes bytes of a job, then drops the connection",
    "paper_out_after": "takes the whole job, then reports paper out, and stays out of paper (fault paper_out)",
    "slow": "takes a job at --bytes-per-second, as a slow or busy printer does",
    "refuse": "refuses connections",
}
#: Faults in which the printer cannot print: what it receives is not printed.
_NOT_PRINTING = ("offline", "paper_out", "cover_open")
#: Default pace of the ``slow`` fault (a 576-dot badge is some 60 kB: about 15 s).
SLOW_BYTES_PER_SECOND = 4096


@dataclass
class ReceivedJob:
    """What one connection sent: the raw bytes, the images it printed, whether it cut the paper."""

    raw: bytes
    images: list[Image.Image] = field(default_factory=list)
    cut: bool = False
    #: The DLE EOT n queries it asked, in order.
    status_queries: list[int] = field(default_factory=list)


class _Session:
    """One connection's state: the parser and what has been printed so far."""

    def __init__(self) -> None:
        self.parser = EscPosParser()
        self.raw = bytearray()
        self.images: list[Image.Image] = []
        self.cut = False
        self.queries: list[int] = []

    @property
    def job_bytes(self) -> int:
        """Bytes received that were not real-time status queries."""
        return len(self.raw) - self.parser.status_bytes

    def feed(self, data: bytes, fault: str | None) -> bytes:
        """Take ``data``; return the answers to the status queries in it (none when the printer is silent)."""
        self.raw += data
        return self._events(self.parser.feed(data), fault)

    def finish(self, fault: str | None) -> None:
        self._events(self.parser.finish(), fault)

    def _events(self, events: list[tuple], fault: str | None) -> bytes:
        answers = bytearray()
        quiet = fault == "silent"  # a stalled printer answers until it stalls; the cut happens before feed()
        printing = fault not in _NOT_PRINTING
        for event in events:
            kind = event[0]
            # paper_out_after: ready when asked before the job, out of paper once job bytes have come in.
            out = fault == "paper_out" or (fault == "paper_out_after" and self.job_bytes > 0)
            if kind == "status":
                self.queries.append(event[1])
                state = encode_status(offline=fault == "offline", cover_open=fault == "cover_open", paper_out=out,
                                      near_end=fault == "near_end")
                if not quiet and event[1] in state:
                    answers.append(state[event[1]])
            elif kind == "transmit_status":
                # GS r 1: paper sensor status (bits 0-1 near end, bits 2-3 paper end), answered in sequence.
                if not quiet:
                    paper = (0x03 if fault == "near_end" or out else 0) | (0x0C if out else 0)
                    answers.append(paper if event[1] in (1, 49) else 0)
            elif kind == "image" and printing:
                self.images.append(event[1])
            elif kind == "cut" and printing:
                self.cut = True
        return bytes(answers)

    def job(self) -> ReceivedJob | None:
        """The recorded job, or None when the connection only asked for status."""
        if self.job_bytes <= 0:
            return None
        return ReceivedJob(raw=bytes(self.raw), images=list(self.images), cut=self.cut,
                           status_queries=list(self.queries))


class PrinterEmulator:
    """A TCP ESC/POS printer on loopback for tests, the demo and trying a kiosk without hardware."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, save_dir: str | os.PathLike | None = None,
                 decode=None) -> None:
        """``save_dir``: write each job's badge there as a PNG (0600 files in a 0700 folder: badges hold
        personal data). ``decode(image) -> list[str]`` reads the QR texts for the job log; by default zxing-cpp
        when it is installed (a test extra), else the log line has no QR text.
        """
        self.host = host
        self.port = port
        self.jobs: list[ReceivedJob] = []
        self.save_dir = Path(save_dir) if save_dir is not None else None
        self._decode = decode if decode is not None else _default_decoder()
        self._fault: str | None = None
        self._after_bytes = 0
        self._bytes_per_second = SLOW_BYTES_PER_SECOND
        self._sessions: set[_Session] = set()
        self._received = 0
        self._cond = threading.Condition()
        self._listener: socket.socket | None = None
        self._started = False
        self._stopped = threading.Event()
        self._accept_thread: threading.Thread | None = None
        self._handlers: set[threading.Thread] = set()
        self._connections: set[socket.socket] = set()

    def __enter__(self) -> PrinterEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<PrinterEmulator {self.host}:{self.port} fault={self._fault!r} jobs={len(self.jobs)}>"

    # -- control ------------------------------------------------------------------------------------------------

    @property
    def fault(self) -> str | None:
        """The current fault (None = healthy)."""
        return self._fault

    def set_fault(self, fault: str | None, *, after_bytes: int = 0,
                  bytes_per_second: int = SLOW_BYTES_PER_SECOND) -> None:
        """Switch into ``fault`` (None = healthy); takes effect for the next byte and the next connection.

        ``after_bytes`` is for ``drop_after`` and ``stall``: that many job bytes (status queries not counted) are
        taken first. ``bytes_per_second`` is the pace of ``slow``. :raise ValueError: unknown fault.
        """
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)} or None")
        if after_bytes < 0:
            raise ValueError("after_bytes must not be negative")
        if bytes_per_second <= 0:
            raise ValueError("bytes_per_second must be positive")
        with self._cond:
            self._fault, self._after_bytes, self._bytes_per_second = fault, after_bytes, bytes_per_second
            if self._started and not self._stopped.is_set():
                if fault == "refuse" and self._listener is not None:
                    # Closed at once, not by the accept thread: the next connect must already be refused.
                    self._close_listener()
                elif fault != "refuse" and self._listener is None:
                    self._listener = self._listen(self.port)
            self._cond.notify_all()

    def start(self) -> PrinterEmulator:
        """Listen and serve in background threads; returns self."""
        with self._cond:
            if self._started:
                return self
            listener = self._listen(self.port)
            self.port = listener.getsockname()[1]
            if self._fault == "refuse":
                listener.close()
            else:
                self._listener = listener
            self._started = True
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"printer-emulator:{self.port}",
                                               daemon=True)
        self._accept_thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve until ``stop()`` is called (from another thread) or the process is interrupted."""
        self.start()
        while not self._stopped.wait(0.5):
            pass

    def stop(self) -> None:
        """Stop listening, cut every open connection and wait for the threads to end."""
        self._stopped.set()
        with self._cond:
            self._close_listener()
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._cond.notify_all()
        if self._accept_thread is not None:
            self._accept_thread.join(5)
        for thread in list(self._handlers):
            thread.join(5)

    def wait_for_jobs(self, count: int, timeout: float = 10) -> list[ReceivedJob]:
        """All jobs once at least ``count`` have been received.

        :raise TimeoutError: fewer than ``count`` within ``timeout`` seconds.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.jobs) >= count, timeout):
                raise TimeoutError(f"printer emulator on port {self.port}: {len(self.jobs)} jobs, "
                                   f"expected {count} within {timeout} s")
            return list(self.jobs)

    def wait_for_job_bytes(self, count: int, timeout: float = 10) -> int:
        """Wait until a connection still open has received at least ``count`` job bytes; returns how many.

        :raise TimeoutError: no open connection got that far within ``timeout`` seconds.
        """
        def most() -> int:
            return max((s.job_bytes for s in self._sessions), default=0)

        with self._cond:
            if not self._cond.wait_for(lambda: most() >= count, timeout):
                raise TimeoutError(f"printer emulator on port {self.port}: no job of {count} bytes in progress "
                                   f"within {timeout} s")
            return most()

    def clear(self) -> None:
        """Forget the jobs received so far."""
        with self._cond:
            self.jobs.clear()

    # -- serving ------------------------------------------------------------------------------------------------

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, port))
            listener.listen(16)
        except OSError:
            listener.close()
            raise
        return listener

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept thread; new connects are refused
            except OSError:
                pass
            listener.close()

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            with self._cond:
                listener = self._listener
                if listener is None:
                    self._cond.wait(0.5)
                    continue
            try:
                conn, _ = listener.accept()
            except OSError:
                time.sleep(0.001)  # the listener was closed for "refuse" or stop(): look again
                continue
            with self._cond:
                if self._stopped.is_set():
                    conn.close()
                    break
                self._connections.add(conn)
                thread = threading.Thread(target=self._serve, args=(conn,), daemon=True,
                                          name=f"printer-emulator:{self.port}:conn")
                self._handlers.add(thread)
                thread.start()  # under the lock: stop() must never see (and join) a thread not yet started

    def _serve(self, conn: socket.socket) -> None:
        session = _Session()
        with self._cond:
            self._sessions.add(session)
        try:
            outcome = self._converse(conn, session)
            if outcome == "eof":
                session.finish(self._fault)
                self._record(session)
            elif outcome == "stall":
                self._record(session)
                with self._cond:  # hold the connection, reading nothing, until the fault is cleared
                    self._cond.wait_for(lambda: self._stopped.is_set() or self._fault != "stall")
            elif outcome == "drop":
                self._record(session)
        except OSError as exc:
            log.debug("printer emulator: connection error: %s", exc)
        finally:
            with self._cond:
                self._connections.discard(conn)
                self._sessions.discard(session)
                self._handlers.discard(threading.current_thread())
            conn.close()  # unread bytes make this a reset, as a printer that drops a job does

    def _converse(self, conn: socket.socket, session: _Session) -> str:
        """Read and answer until the peer closes ("eof") or a fault cuts in ("stall", "drop", "stopped")."""
        while True:
            cut = self._cut_by_fault(session)
            if cut:
                return cut
            slow = self._fault == "slow"
            data = conn.recv(max(1, self._bytes_per_second // 20) if slow else 65536)
            if not data:
                return "stopped" if self._stopped.is_set() else "eof"
            if slow:
                time.sleep(len(data) / self._bytes_per_second)
            while data:
                fault, after = self._fault, self._after_bytes
                if fault in ("drop_after", "stall"):
                    room = after - session.job_bytes
                    if room <= 0:
                        return "drop" if fault == "drop_after" else "stall"
                    piece, data = data[:room], data[room:]
                else:
                    piece, data = data, b""
                with self._cond:  # wait_for_job_bytes() watches the sessions' progress
                    answers = session.feed(piece, fault)
                    if fault == "paper_out_after" and session.job_bytes and answers:
                        self._fault = "paper_out"  # the roll ran out under this job: the next one finds it out
                    self._cond.notify_all()
                if answers:
                    conn.sendall(answers)

    def _cut_by_fault(self, session: _Session) -> str | None:
        fault = self._fault
        if fault in ("drop_after", "stall") and session.job_bytes >= self._after_bytes:
            return "drop" if fault == "drop_after" else "stall"
        return None

    def _record(self, session: _Session) -> None:
        job = session.job()
        if job is None:
            return
        with self._cond:
            self._received += 1
            number = self._received
        # Saved and logged before the job is announced: whoever waits for it finds its PNG and its log line.
        if self.save_dir is not None:
            for index, image in enumerate(job.images, 1):
                self._save(image, f"job-{number:06d}" + (f"-{index}" if len(job.images) > 1 else "") + ".png")
        if log.isEnabledFor(logging.INFO):  # decoding the QR costs milliseconds: only when someone reads it
            log.info("%s", self.describe(job, number=number))
        with self._cond:
            self.jobs.append(job)
            self._cond.notify_all()

    def describe(self, job: ReceivedJob, *, number: int) -> str:
        """The job's log line: when, how many bytes, the raster's size, the badge's QR text (when decodable)."""
        at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        raster = ", ".join(f"{image.width}x{image.height}" for image in job.images) or "no raster"
        line = (f"printer emulator :{self.port}: job {number} at {at}: {len(job.raw)} bytes, raster {raster}, "
                f"cut={'yes' if job.cut else 'no'}, fault={self._fault or 'none'}")
        if self._decode is not None and job.images:
            texts = [text for image in job.images for text in self._decode(image)]
            line += f", QR {' '.join(texts) if texts else '(none found)'}"
        return line

    def _save(self, image: Image.Image, name: str) -> None:
        """Write one badge as ``save_dir/name``, private to this user (created 0600 in a 0700 folder)."""
        self.save_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.save_dir, 0o700)  # mkdir's mode is masked by the umask, and an existing folder keeps its own
        path = self.save_dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), 0o600)
            image.save(out, format="PNG")


def _default_decoder():
    """zxing-cpp's QR reader when it is installed (a test extra), else None: the log then has no QR text."""
    try:
        import zxingcpp
    except ImportError:
        return None

    def decode(image: Image.Image) -> list[str]:
        return [r.text for r in zxingcpp.read_barcodes(image.convert("L")) if r.format == zxingcpp.BarcodeFormat.QRCode]

    return decode
