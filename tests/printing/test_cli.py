"""`lanyard print-worker` and `lanyard printer-emulator`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import PREVIEW_PRINTERS

LANYARD = str(Path(sys.executable).parent / "lanyard")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connect(port: int, timeout: float = 10) -> socket.socket:
    """Connect to a server that is still starting (the tests wait for it, not for a clock)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_print_worker_once_sends_what_is_due_and_exits(runner, queue_job, load_job):
    queued = queue_job(PREVIEW_PRINTERS[0])
    result = runner.invoke(args=["print-worker", "--once", "--worker-id", "cli-test"])
    assert result.exit_code == 0, result.output
    assert "cli-test: 1 jobs handled" in result.output
    assert load_job(queued.id).state == "printed"


def test_print_worker_stops_cleanly_on_sigterm(settings, queue_job, load_job, preview_dir):
    env = dict(os.environ, LANYARD_CONFIG=str(settings.path))
    process = subprocess.Popen([LANYARD, "print-worker", "--worker-id", "daemon"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        queued = queue_job(PREVIEW_PRINTERS[0])
        deadline = time.monotonic() + 60
        while load_job(queued.id).state != "printed" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert load_job(queued.id).state == "printed"
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "SIGTERM received" in err and "Print worker daemon stopped." in err


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as for a job a non-interactive shell puts in the background


@pytest.mark.parametrize("inherited_sigint", ["default", "ignored"])
def test_printer_emulator_command_answers_status_queries(settings, inherited_sigint):
    port = free_port()
    process = subprocess.Popen([LANYARD, "printer-emulator", "--port", str(port), "--fault", "paper_out"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, LANYARD_CONFIG=str(settings.path)),
                               preexec_fn=_ignore_sigint if inherited_sigint == "ignored" else None)
    try:
        with connect(port) as conn:
            conn.sendall(b"\x10\x04\x04")  # DLE EOT 4: paper roll sensor status
            reply = conn.recv(1)
        assert len(reply) == 1 and reply[0] & 0x60  # paper end bits set
    finally:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"listening on 127.0.0.1:{port}" in err


def test_printer_emulator_command_offers_exactly_the_emulators_faults(app):
    from printers.emulator import FAULTS
    from registration.printing.cli import printer_emulator_command

    [fault] = [p for p in printer_emulator_command.params if p.name == "fault"]
    assert list(fault.type.choices) == list(FAULTS)


def test_printer_emulator_command_logs_each_job_and_saves_its_badge(settings, tmp_path):
    from printers import BadgeData, make_printer, render_badge
    from tests.helpers import decode_qr

    port, folder, code = free_port(), tmp_path / "received", "B1" + "0123456789ABCDEFGHJKMNPQRS"
    process = subprocess.Popen([LANYARD, "printer-emulator", "--port", str(port), "--save", str(folder)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, LANYARD_CONFIG=str(settings.path)))
    try:
        connect(port).close()
        printer = make_printer("cli", {"backend": "network", "host": "127.0.0.1", "port": port})
        badge = BadgeData(badge_name="Ada Lovelace", band_text="FULL CONFERENCE", event_name="Expo", code=code)
        printer.print_badge(render_badge(badge, width=printer.width).image, job_name="j1")
        saved = folder / "job-000001.png"
        deadline = time.monotonic() + 30
        while not saved.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert decode_qr(saved.read_bytes()) == [code]
        assert (folder.stat().st_mode & 0o777, saved.stat().st_mode & 0o777) == (0o700, 0o600)
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    [line] = [line for line in err.splitlines() if ": job 1 at " in line]
    assert f"bytes, raster {printer.width}x" in line and line.endswith(f"QR {code}")
    assert f"saving badges in {folder}" in err
