"""Network backend: raw TCP (port 9100) with short connect and io timeouts and a half-close at the end."""

from __future__ import annotations

import socket
import time

from ..errors import PrinterOffline
from ..printer import StreamPrinter, deadline_left, read_within

#: Bytes handed to the socket per send(): small enough that a stalled printer is noticed within the io timeout.
CHUNK = 16384


class SocketConnection:
    """One TCP connection to a printer, for one job."""

    def __init__(self, sock: socket.socket, io_timeout: float) -> None:
        self.sock = sock
        self.io_timeout = io_timeout

    def write(self, data: bytes) -> int:
        """Send everything within the io timeout in all (OSError.sent_bytes says how much went out before a failure)."""
        view = memoryview(data)
        total = 0
        # One deadline for the whole job: a printer that takes a trickle at a time must not stretch it indefinitely.
        deadline = time.monotonic() + self.io_timeout
        try:
            while total < len(view):
                left = deadline_left(deadline)
                if left <= 0:
                    raise TimeoutError(f"printer took {total} of {len(view)} bytes within {self.io_timeout} s")
                self.sock.settimeout(left)
                total += self.sock.send(view[total:total + CHUNK])
        except OSError as exc:
            exc.sent_bytes = total
            raise
        return total

    def read(self, count: int, timeout: float) -> bytes:
        """Up to ``count`` bytes within ``timeout`` seconds (fewer if the printer closes or stays quiet)."""
        def recv(wanted: int, left: float) -> bytes:
            self.sock.settimeout(left)
            try:
                return self.sock.recv(wanted)
            except (socket.timeout, TimeoutError):
                return b""

        return read_within(count, timeout, recv)

    def abort(self) -> None:
        """Shut the socket both ways: a send or recv in progress in another thread fails at once."""
        self.sock.shutdown(socket.SHUT_RDWR)

    def close(self, drain_timeout: float) -> None:
        """Half-close (the printer sees the end of the job), read until it closes too, then close."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + drain_timeout
            while (left := deadline_left(deadline)) > 0:
                self.sock.settimeout(left)
                if not self.sock.recv(4096):
                    break
        except OSError:
            pass  # reset or timeout while draining: everything we wrote was already acknowledged or lost
        finally:
            self.sock.close()


class NetworkPrinter(StreamPrinter):
    """An ESC/POS printer on raw TCP (JetDirect, port 9100)."""

    def __init__(self, name: str, *, host: str, port: int = 9100, **options) -> None:
        super().__init__(name, **options)
        self.host = host
        self.port = port

    def __repr__(self) -> str:
        return f"<NetworkPrinter {self.name!r} {self.host}:{self.port} width={self.width}>"

    def _open(self) -> SocketConnection:
        """Connect within ``connect_timeout``.

        :raise PrinterOffline: refused, unreachable or timed out.
        """
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise PrinterOffline(f"cannot reach printer {self.name!r} at {self.host}:{self.port}: {exc}") from exc
        # Status queries are 3 bytes: do not let Nagle hold them back waiting for more.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return SocketConnection(sock, self.io_timeout)
