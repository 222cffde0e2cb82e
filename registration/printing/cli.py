"""CLI commands of the print queue: `lanyard print-worker` and `lanyard printer-emulator`."""

from __future__ import annotations

import logging
import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from printers.emulator import FAULTS as EMULATOR_FAULTS
from printers.emulator import SLOW_BYTES_PER_SECOND


@click.command("print-worker")
@click.option("--once", is_flag=True, help="Send what is due now, then exit (instead of running until stopped).")
@click.option("--worker-id", default=None, help="Name of this worker in the queue (default host:pid:thread).")
@click.option("--poll-interval", default=0.2, show_default=True, type=click.FloatRange(0.01, 60),
              help="Seconds to wait when the queue is empty.")
@with_appcontext
def print_worker_command(once, worker_id, poll_interval):
    """Send queued badges to their printers; several workers may run at once. Stops cleanly on SIGTERM/SIGINT."""
    from .worker import _worker_for, default_worker_id, run_worker

    app = current_app._get_current_object()
    worker_id = worker_id or default_worker_id()
    if once:
        worker = _worker_for(app, worker_id)
        total = 0
        while handled := worker.process_once():
            total += handled
        click.echo(f"Print worker {worker_id}: {total} jobs handled.")
        return
    # A long-running worker logs each job's transitions (claimed, printed, held, moved, escalated).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def request_stop(signum, _frame):
        click.echo(f"Print worker {worker_id}: {signal.Signals(signum).name} received, finishing the job in flight.",
                   err=True)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    click.echo(f"Print worker {worker_id} running for printers: {', '.join(app.extensions['lanyard'].printers)}.",
               err=True)
    try:
        run_worker(app, worker_id=worker_id, stop=stop, poll_interval=poll_interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"Print worker {worker_id} stopped.", err=True)


@click.command("printer-emulator")
@click.option("--port", required=True, type=click.IntRange(0, 65535), help="TCP port (9100 is the printers' own).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--fault", type=click.Choice(list(EMULATOR_FAULTS)), default=None,
              help="Start in this fault state: " + "; ".join(f"{k}: {v}" for k, v in EMULATOR_FAULTS.items()) + ".")
@click.option("--after-bytes", default=0, show_default=True, type=click.IntRange(0),
              help="For --fault drop_after and stall: the bytes of a job taken before the fault cuts in.")
@click.option("--bytes-per-second", default=SLOW_BYTES_PER_SECOND, show_default=True, type=click.IntRange(1),
              help="For --fault slow: how fast the printer takes a job.")
@click.option("--save", "save_dir", default=None, type=click.Path(file_okay=False, writable=True),
              help="Write each badge received as a PNG in this folder (private to you: badges hold personal data).")
def printer_emulator_command(port, host, fault, after_bytes, bytes_per_second, save_dir):
    """Run the ESC/POS network printer emulator (a kiosk can be tried without hardware); logs each job received."""
    from printers import PrinterEmulator

    # One line per job received (time, bytes, raster size, the badge's QR when zxing-cpp is installed).
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("printers").setLevel(logging.INFO)
    emulator = PrinterEmulator(host=host, port=port, save_dir=save_dir)
    if fault:
        emulator.set_fault(fault, after_bytes=after_bytes, bytes_per_second=bytes_per_second)
    # Our own handlers: a process started in the background by a non-interactive shell inherits an
    # ignored SIGINT, and Python then never raises KeyboardInterrupt; SIGTERM is how services stop.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    emulator.start()  # binds now, so the message names the real port (--port 0 picks a free one)
    try:
        click.echo(f"Printer emulator listening on {host}:{emulator.port}" + (f" (fault: {fault})" if fault else "")
                   + (f"; saving badges in {save_dir}" if save_dir else "") + "; Ctrl-C stops it.", err=True)
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    click.echo(f"Printer emulator stopped after {len(emulator.jobs)} jobs.", err=True)
