"""The emulator's faults, seen through the network backend: each one is the documented error, sent or not."""

from __future__ import annotations

import socket
import threading

import pytest

from printers import (CoverOpen, PaperOut, PrinterEmulator, PrinterOffline, PrintNotConfirmed, StatusUnknown,
                      make_printer, render_badge)
from printers.status import STATUS_QUERY

from .conftest import CODE, FAST
from .test_badge import decode

#: fault, after_bytes -> error, code, sent, jobs recorded (job bytes taken, images printed)
FAULTS = [
    pytest.param("offline", 0, PrinterOffline, "printer_offline", False, [], id="offline"),
    pytest.param("paper_out", 0, PaperOut, "paper_out", False, [], id="paper_out"),
    pytest.param("cover_open", 0, CoverOpen, "cover_open", False, [], id="cover_open"),
    pytest.param("silent", 0, StatusUnknown, "status_unknown", False, [], id="silent"),
    pytest.param("stall", 0, StatusUnknown, "status_unknown", False, [], id="stall-at-once"),
    pytest.param("stall", 2000, PrintNotConfirmed, "print_unconfirmed", True, [(2000, 0)], id="stall-mid-job"),
    pytest.param("drop_after", 0, StatusUnknown, "status_unknown", False, [], id="drop-at-once"),
    pytest.param("drop_after", 2000, PrintNotConfirmed, "print_unconfirmed", True, [(2000, 0)], id="drop-mid-job"),
    pytest.param("refuse", 0, PrinterOffline, "printer_offline", False, [], id="refuse"),
]


@pytest.mark.parametrize("fault, after, error, code, sent, recorded", FAULTS)
def test_fault_raises_the_documented_error(emulator, network_printer, badge, fault, after, error, code, sent,
                                           recorded):
    printer = network_printer()
    image = render_badge(badge, width=printer.width).image
    emulator.set_fault(fault, after_bytes=after)
    with pytest.raises(error) as caught:
        printer.print_badge(image, job_name="j1")
    assert (caught.value.code, caught.value.sent) == (code, sent)
    jobs = emulator.wait_for_jobs(len(recorded), timeout=2)
    assert [(len(j.raw) - 3 * len(j.status_queries), len(j.images)) for j in jobs] == recorded

    emulator.set_fault(None)  # the printer recovers: the same printer object prints the badge
    printer.print_badge(image, job_name="j2")
    last = emulator.wait_for_jobs(len(recorded) + 1)[-1]
    assert decode(last.images[0]) == [CODE] and last.cut


def test_near_end_prints_and_reports_it(emulator, network_printer, badge):
    printer = network_printer()
    emulator.set_fault("near_end")
    printer.print_badge(render_badge(badge, width=printer.width).image, job_name="j1")
    assert decode(emulator.wait_for_jobs(1)[0].images[0]) == [CODE]
    assert printer.last_status.paper_near_end and printer.last_status.ready


@pytest.mark.parametrize("fault, online, cover_open, paper_out, near_end", [
    (None, True, False, False, False),
    ("near_end", True, False, False, True),
    ("offline", False, False, False, False),
    ("paper_out", False, False, True, True),
    ("cover_open", False, True, False, False),
])
def test_status_reports_the_fault(emulator, network_printer, fault, online, cover_open, paper_out, near_end):
    emulator.set_fault(fault)
    status = network_printer().status()
    assert (status.online, status.cover_open, status.paper_out, status.paper_near_end) == \
        (online, cover_open, paper_out, near_end)


@pytest.mark.parametrize("fault, error", [("silent", StatusUnknown), ("stall", StatusUnknown),
                                          ("refuse", PrinterOffline)])
def test_status_without_an_answer_is_never_ok(emulator, network_printer, fault, error):
    emulator.set_fault(fault)
    with pytest.raises(error) as caught:
        network_printer().status()
    assert caught.value.sent is False


def test_fault_that_appears_during_the_job_is_reported_as_sent(emulator, network_printer, badge, monkeypatch):
    printer = network_printer()
    image = render_badge(badge, width=printer.width).image
    from printers.backends.network import SocketConnection as connection_class

    write = connection_class.write

    def write_then_open_the_cover(self, data):
        result = write(self, data)
        if data != STATUS_QUERY:
            emulator.set_fault("cover_open")
        return result

    monkeypatch.setattr(connection_class, "write", write_then_open_the_cover)
    with pytest.raises(CoverOpen) as caught:
        printer.print_badge(image, job_name="j1")
    assert caught.value.sent is True


def raw_client(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=2)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_exactly(sock: socket.socket, count: int) -> bytes:
    out = b""
    while len(out) < count:
        chunk = sock.recv(count - len(out))
        if not chunk:
            break
        out += chunk
    return out


def test_status_queries_between_commands_are_answered_in_order(emulator):
    emulator.set_fault("near_end")
    with raw_client(emulator.port) as sock:
        sock.sendall(b"\x10\x04\x01\x1b@\x1ba\x01Hello\n\x10\x04\x04\x1dV\x00\x10\x04\x02")
        assert read_exactly(sock, 3) == b"\x12\x1e\x12"
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(10) == b""  # the job is recorded before the printer closes its side
    [job] = emulator.jobs
    assert job.cut and job.images == [] and job.status_queries == [1, 4, 2]


def test_a_connection_that_only_asks_for_status_is_not_a_job(emulator):
    with raw_client(emulator.port) as sock:
        sock.sendall(STATUS_QUERY)
        assert read_exactly(sock, 3) == b"\x12\x12\x12"
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(10) == b""
    assert emulator.jobs == []


def test_refuse_closes_the_port_and_recovery_reopens_it(emulator):
    emulator.set_fault("refuse")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", emulator.port), timeout=1)
    emulator.set_fault(None)
    with raw_client(emulator.port) as sock:
        sock.sendall(STATUS_QUERY)
        assert read_exactly(sock, 3) == b"\x12\x12\x12"


def test_refuse_before_start_still_gets_a_port():
    emulator = PrinterEmulator()
    emulator.set_fault("refuse")
    with emulator:
        assert emulator.port
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", emulator.port), timeout=1)


def test_stop_ends_a_stalled_connection(badge):
    emulator = PrinterEmulator().start()
    emulator.set_fault("stall")
    sock = raw_client(emulator.port)
    sock.sendall(STATUS_QUERY)
    emulator.stop()
    sock.settimeout(2)
    try:
        assert sock.recv(10) == b""  # closed, never answered
    except ConnectionResetError:
        pass  # closed with the query unread: a reset, also never answered
    finally:
        sock.close()


def test_unknown_fault_is_refused(emulator):
    with pytest.raises(ValueError):
        emulator.set_fault("on_fire")
    with pytest.raises(ValueError):
        emulator.set_fault("drop_after", after_bytes=-1)


def test_wait_for_jobs_times_out(emulator):
    with pytest.raises(TimeoutError):
        emulator.wait_for_jobs(1, timeout=0.05)


def test_serve_forever_returns_when_stopped():
    emulator = PrinterEmulator()
    thread = threading.Thread(target=emulator.serve_forever)
    thread.start()
    with raw_client(_wait_for_port(emulator)) as sock:
        sock.sendall(STATUS_QUERY)
        assert read_exactly(sock, 3) == b"\x12\x12\x12"
    emulator.stop()
    thread.join(5)
    assert not thread.is_alive()


def _wait_for_port(emulator: PrinterEmulator) -> int:
    for _ in range(200):
        if emulator.port:
            return emulator.port
        threading.Event().wait(0.01)
    raise AssertionError("emulator did not start")


def test_a_printer_that_never_accepts_is_offline_after_the_connect_timeout(network_printer, badge):
    # A listener whose accept queue is full drops further SYNs: the connect hangs until our timeout.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(filler)
        printer = network_printer(port=port, connect_timeout=0.3)
        with pytest.raises(PrinterOffline, match="timed out") as caught:
            printer.print_badge(render_badge(badge, width=printer.width).image, job_name="j1")
        assert caught.value.sent is False
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@pytest.mark.parametrize("impl", ["bitImageRaster", "graphics", "bitImageColumn"])
def test_emulator_decodes_every_image_command_python_escpos_emits(emulator, badge, impl):
    from escpos.printer import Dummy

    image = render_badge(badge).image
    printer = Dummy(profile="TM-L90")
    printer.hw("INIT")
    printer.image(image, impl=impl, fragment_height=2000)
    printer.cut()
    with raw_client(emulator.port) as sock:
        sock.sendall(printer.output)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(10) == b""
    [job] = emulator.jobs
    assert job.cut and len(job.images) == 1
    assert job.images[0].crop((0, 0, *image.size)).tobytes() == image.tobytes()
    assert decode(job.images[0]) == [CODE]


def test_paper_out_after_the_job_is_reported_as_sent_and_the_job_was_received(emulator, network_printer, badge):
    printer = network_printer()
    emulator.set_fault("paper_out_after")
    assert printer.status().ready  # asked before a job, the printer says it is ready
    with pytest.raises(PaperOut) as caught:
        printer.print_badge(render_badge(badge, width=printer.width).image, job_name="j1")
    assert (caught.value.code, caught.value.sent) == ("paper_out", True)
    [job] = emulator.wait_for_jobs(1)
    assert decode(job.images[0]) == [CODE] and job.cut  # the whole job went out


def test_slow_printer_takes_a_job_at_its_pace(emulator, network_printer, badge):
    import time

    printer = network_printer(io_timeout=10)
    image = render_badge(badge, width=printer.width).image
    size = len(printer.job_bytes(image))
    emulator.set_fault("slow", bytes_per_second=size * 2)  # half a second for the whole job
    started = time.monotonic()
    printer.print_badge(image, job_name="j1")
    assert time.monotonic() - started >= 0.45
    assert decode(emulator.wait_for_jobs(1)[0].images[0]) == [CODE]


def test_wait_for_job_bytes_sees_a_job_in_progress(emulator, network_printer, badge):
    printer = network_printer(io_timeout=5)
    emulator.set_fault("stall", after_bytes=3000)
    thread = threading.Thread(target=lambda: pytest.raises(PrintNotConfirmed, printer.print_badge,
                                                           render_badge(badge, width=printer.width).image,
                                                           job_name="j1"))
    thread.start()
    try:
        assert emulator.wait_for_job_bytes(3000) == 3000
    finally:
        emulator.set_fault(None)
        thread.join(10)


def test_every_job_received_is_logged_with_its_bytes_raster_and_qr(emulator, network_printer, badge, caplog):
    caplog.set_level("INFO", logger="printers.emulator")
    printer = network_printer()
    image = render_badge(badge, width=printer.width).image
    printer.print_badge(image, job_name="j1")
    [job] = emulator.wait_for_jobs(1)
    [line] = [r.getMessage() for r in caplog.records if r.name == "printers.emulator"]
    assert f":{emulator.port}: job 1 at 20" in line
    assert f"{len(job.raw)} bytes, raster {job.images[0].width}x{job.images[0].height}, cut=yes" in line
    assert line.endswith(f"QR {CODE}")


def test_the_job_log_has_no_qr_text_without_a_decoder(monkeypatch, network_printer, badge, caplog):
    import builtins

    real_import = builtins.__import__

    def no_zxing(name, *args, **kwargs):
        if name == "zxingcpp":
            raise ImportError("zxing-cpp is a test extra")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_zxing)
    caplog.set_level("INFO", logger="printers.emulator")
    with PrinterEmulator() as bare:
        printer = make_printer("bare", {"backend": "network", "host": "127.0.0.1", "port": bare.port, **FAST})
        printer.print_badge(render_badge(badge, width=printer.width).image, job_name="j1")
        bare.wait_for_jobs(1)
    [line] = [r.getMessage() for r in caplog.records if r.name == "printers.emulator"]
    assert "bytes, raster " in line and "QR" not in line


def test_save_writes_each_badge_as_a_private_png(tmp_path, badge):
    from PIL import Image

    folder = tmp_path / "received" / "badges"
    with PrinterEmulator(save_dir=folder) as saving:
        printer = make_printer("saving", {"backend": "network", "host": "127.0.0.1", "port": saving.port, **FAST})
        for name in ("j1", "j2"):
            printer.print_badge(render_badge(badge, width=printer.width).image, job_name=name)
        jobs = saving.wait_for_jobs(2)
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["job-000001.png", "job-000002.png"]
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    with Image.open(files[0]) as saved:
        assert saved.size == jobs[0].images[0].size and decode(saved) == [CODE]


def test_every_fault_is_documented_in_the_readme():
    from pathlib import Path

    from printers.emulator import FAULTS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    printers_section = readme[readme.index("## Printers"):readme.index("## Print queue")]
    missing = [fault for fault in FAULTS if f"| `{fault}` |" not in printers_section]
    assert not missing, f"emulator faults missing from the README's fault table: {missing}"
