"""Every backend's bytes decode back to the badge pixel for pixel; options are checked when the printer is built."""

from __future__ import annotations

import math
import os
import threading
import time
import tty

import pytest
from PIL import Image

from printers import (BadgePrinter, PrinterConfigError, PrinterOffline, decode_raster, job_bytes, make_printer,
                      render_badge)
from printers.emulator import _Session
from printers.status import STATUS_QUERY

from .conftest import CODE, FAST
from .test_badge import decode


def test_network_printer_sends_a_raster_that_decodes_to_the_badge(emulator, network_printer, badge):
    printer = network_printer()
    image = render_badge(badge, width=printer.width).image
    printer.print_badge(image, job_name="job-1")
    [job] = emulator.wait_for_jobs(1)
    assert job.raw == STATUS_QUERY + job_bytes(image, profile="TM-T88V") + STATUS_QUERY
    assert job.cut and job.status_queries == [1, 2, 4, 1, 2, 4]
    assert [i.tobytes() for i in job.images] == [image.tobytes()]
    assert decode(job.images[0]) == [CODE]
    assert printer.last_status.ready


@pytest.mark.parametrize("profile, width", [("TM-T88V", 512), ("TM-L90", 576), ("TM-T20II", 576)])
def test_width_comes_from_the_profile(emulator, network_printer, badge, profile, width):
    printer = network_printer(profile=profile)
    assert printer.width == width
    printer.print_badge(render_badge(badge, width=printer.width).image, job_name="job-1")
    assert emulator.wait_for_jobs(1)[0].images[0].size == (width, round(800 * width / 576))


def test_status_of_a_healthy_printer(emulator, network_printer):
    status = network_printer().status()
    assert status.ready and not status.paper_near_end
    assert emulator.jobs == []  # a status query is not a job


def test_one_job_at_a_time_per_printer(emulator, network_printer, badge, monkeypatch):
    printer = network_printer()
    image = render_badge(badge, width=printer.width).image
    active, most = [0], [0]
    open_connection = type(printer)._open

    def counting_open(self):
        active[0] += 1
        most[0] = max(most[0], active[0])
        time.sleep(0.02)  # widen the window in which a second job could slip in
        active[0] -= 1
        return open_connection(self)

    monkeypatch.setattr(type(printer), "_open", counting_open)
    threads = [threading.Thread(target=printer.print_badge, args=(image,), kwargs={"job_name": f"j{i}"})
               for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1
    assert [len(job.images) for job in emulator.wait_for_jobs(4)] == [1, 1, 1, 1]


def test_image_wider_than_the_head_is_refused_before_connecting(badge):
    printer = make_printer("narrow", {"backend": "network", "host": "127.0.0.1", "port": 9, **FAST})
    with pytest.raises(PrinterConfigError) as caught:
        printer.print_badge(render_badge(badge, width=576).image, job_name="j")
    assert caught.value.sent is False


def test_file_printer_writes_the_job_bytes(tmp_path, badge):
    path = tmp_path / "lp0"
    printer = make_printer("file", {"backend": "file", "path": str(path), "profile": "TM-L90"})
    assert (printer.supports_status, printer.width) == (False, 576)
    first = render_badge(badge).image
    second = render_badge(badge.__class__(**{**badge.__dict__, "badge_name": "Grace Hopper"})).image
    printer.print_badge(first, job_name="a")
    printer.print_badge(second, job_name="b")
    data = path.read_bytes()
    assert data == job_bytes(first, profile="TM-L90") + job_bytes(second, profile="TM-L90")
    assert [i.tobytes() for i in decode_raster(data)] == [first.tobytes(), second.tobytes()]


def test_file_printer_that_cannot_open_its_path_is_offline(tmp_path, badge):
    printer = make_printer("file", {"backend": "file", "path": str(tmp_path / "missing" / "lp0")})
    with pytest.raises(PrinterOffline) as caught:
        printer.print_badge(render_badge(badge, width=printer.width).image, job_name="a")
    assert caught.value.sent is False


def test_preview_printer_writes_a_png_atomically(tmp_path, badge):
    printer = make_printer("preview", {"backend": "preview", "directory": str(tmp_path / "out")})
    assert printer.supports_status is False
    image = render_badge(badge, width=printer.width).image
    printer.print_badge(image, job_name="job-000001-000001")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["job-000001-000001.png"]
    with Image.open(tmp_path / "out" / "job-000001-000001.png") as png:
        assert png.mode == "1" and png.tobytes() == image.tobytes()
    assert decode(Image.open(tmp_path / "out" / "job-000001-000001.png")) == [CODE]


@pytest.mark.parametrize("job_name", ["../escape", "a/b", "", ".hidden", "x" * 200])
def test_preview_printer_refuses_unsafe_job_names(tmp_path, badge, job_name):
    printer = make_printer("preview", {"backend": "preview", "directory": str(tmp_path)})
    with pytest.raises(PrinterConfigError) as caught:
        printer.print_badge(render_badge(badge, width=printer.width).image, job_name=job_name)
    assert caught.value.sent is False
    assert list(tmp_path.iterdir()) == []


def test_status_of_a_one_way_printer_is_unknown(tmp_path):
    from printers import StatusUnknown

    with pytest.raises(StatusUnknown):
        make_printer("preview", {"backend": "preview", "directory": str(tmp_path)}).status()


@pytest.fixture
def pty_printer():
    """A printer on the far end of a pseudo-terminal: the serial backend's port, answered like the emulator."""
    master, slave = os.openpty()
    tty.setraw(slave)
    session = _Session()
    done = threading.Event()

    def serve():
        while not done.is_set():
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            answers = session.feed(data, None)
            if answers:
                os.write(master, answers)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield os.ttyname(slave), session
    done.set()
    os.close(slave)
    os.close(master)
    thread.join(2)


def test_serial_printer_sends_the_same_raster_over_a_port(pty_printer, badge):
    devfile, session = pty_printer
    printer = make_printer("serial", {"backend": "serial", "devfile": devfile, "baudrate": 115200, **FAST})
    assert printer.supports_status and printer.status().ready
    image = render_badge(badge, width=printer.width).image
    printer.print_badge(image, job_name="s1")
    assert bytes(session.raw) == STATUS_QUERY * 2 + job_bytes(image) + STATUS_QUERY
    assert [i.tobytes() for i in session.images] == [image.tobytes()] and session.cut


def test_serial_printer_on_a_missing_port_is_offline(tmp_path, badge):
    printer = make_printer("serial", {"backend": "serial", "devfile": str(tmp_path / "ttyUSB9"), **FAST})
    with pytest.raises(PrinterOffline) as caught:
        printer.print_badge(render_badge(badge, width=printer.width).image, job_name="s1")
    assert caught.value.sent is False


class FakeUsbDevice:
    """Just enough of a pyusb device for python-escpos's Usb: bulk OUT feeds an emulated printer, IN answers."""

    class backend:  # python-escpos only looks at the backend's module name
        pass

    def __init__(self):
        self.session = _Session()
        self.answers = bytearray()
        self.timeouts = []

    def set_configuration(self):
        pass

    def reset(self):
        pass

    def write(self, endpoint, data, timeout=None):
        assert endpoint == 0x01
        self.timeouts.append(timeout)
        self.answers += self.session.feed(bytes(data), None)
        return len(data)

    def read(self, endpoint, size, timeout=None):
        import usb.core

        assert endpoint == 0x82
        if not self.answers:
            raise usb.core.USBTimeoutError("timeout", 110, 110)
        out, self.answers[:] = bytes(self.answers[:size]), self.answers[size:]
        return out


def test_usb_printer_sends_the_same_raster_over_bulk_transfers(monkeypatch, badge):
    import usb.core
    import usb.util

    device = FakeUsbDevice()
    found = []
    monkeypatch.setattr(usb.core, "find", lambda **match: found.append(match) or device)
    monkeypatch.setattr(usb.util, "dispose_resources", lambda dev: None)
    printer = make_printer("usb", {"backend": "usb", "vendor_id": 0x04B8, "product_id": 0x0202, **FAST})
    image = render_badge(badge, width=printer.width).image
    printer.print_badge(image, job_name="u1")
    assert found == [{"idVendor": 0x04B8, "idProduct": 0x0202}]
    assert bytes(device.session.raw) == STATUS_QUERY + job_bytes(image) + STATUS_QUERY
    assert [i.tobytes() for i in device.session.images] == [image.tobytes()]
    assert set(device.timeouts) == {500}  # the io timeout, in milliseconds


def test_usb_printer_not_plugged_in_is_offline(monkeypatch, badge):
    import usb.core

    monkeypatch.setattr(usb.core, "find", lambda **match: None)
    printer = make_printer("usb", {"backend": "usb", "vendor_id": 1, "product_id": 2, **FAST})
    with pytest.raises(PrinterOffline) as caught:
        printer.print_badge(render_badge(badge, width=printer.width).image, job_name="u1")
    assert caught.value.sent is False


VALID = {
    "network": {"backend": "network", "host": "printer.local"},
    "usb": {"backend": "usb", "vendor_id": 0x04B8, "product_id": 0x0202},
    "serial": {"backend": "serial", "devfile": "/dev/ttyS0", "baudrate": 38400},
    "file": {"backend": "file", "path": "/dev/usb/lp0"},
    "preview": {"backend": "preview", "directory": "/tmp/badges"},
}


@pytest.mark.parametrize("backend", sorted(VALID))
def test_every_backend_builds_from_its_options(backend):
    printer = make_printer("p", {**VALID[backend], "fallback": "other", "hold_seconds": 30})  # queue keys ignored
    assert isinstance(printer, BadgePrinter)
    assert (printer.name, printer.width, printer.connect_timeout, printer.io_timeout) == ("p", 512, 3.0, 10.0)
    assert printer.supports_status == (backend in ("network", "usb", "serial"))


BAD = [
    pytest.param({}, id="no-backend"),
    pytest.param({"backend": "cups", "host": "x"}, id="unknown-backend"),
    pytest.param({"backend": None}, id="backend-none"),
    pytest.param({"backend": "network"}, id="network-without-host"),
    pytest.param({"backend": "network", "host": ""}, id="network-empty-host"),
    pytest.param({"backend": "network", "host": "x", "port": "9100"}, id="port-as-text"),
    pytest.param({"backend": "network", "host": "x", "port": 70000}, id="port-out-of-range"),
    pytest.param({"backend": "network", "host": "x", "port": True}, id="port-bool"),
    pytest.param({"backend": "usb", "vendor_id": 0x04B8}, id="usb-without-product"),
    pytest.param({"backend": "usb", "vendor_id": "0x04b8", "product_id": 1}, id="usb-id-as-text"),
    pytest.param({"backend": "serial"}, id="serial-without-devfile"),
    pytest.param({"backend": "serial", "devfile": "/dev/ttyS0", "baudrate": -1}, id="negative-baudrate"),
    pytest.param({"backend": "file"}, id="file-without-path"),
    pytest.param({"backend": "preview"}, id="preview-without-directory"),
    pytest.param({**VALID["network"], "profile": "NoSuchPrinter"}, id="unknown-profile"),
    pytest.param({**VALID["network"], "profile": "default"}, id="profile-without-width"),
    pytest.param({**VALID["network"], "connect_timeout": 0}, id="zero-connect-timeout"),
    pytest.param({**VALID["network"], "io_timeout": -1.0}, id="negative-io-timeout"),
    pytest.param({**VALID["network"], "io_timeout": math.nan}, id="nan-io-timeout"),
    pytest.param({**VALID["network"], "connect_timeout": "3"}, id="timeout-as-text"),
]


@pytest.mark.parametrize("options", BAD)
def test_bad_options_are_a_config_error(options):
    with pytest.raises(PrinterConfigError) as caught:
        make_printer("kiosk-1", options)
    assert (caught.value.code, caught.value.sent) == ("printer_config", False)
    assert "kiosk-1" in str(caught.value) or "profile" in str(caught.value)


@pytest.mark.parametrize("options, key", [
    ({"backend": "fax"}, "backend"),
    ({"backend": "network"}, "host"),
    ({"backend": "network", "host": "10.0.0.5", "port": 0}, "port"),
    ({"backend": "serial", "devfile": "/dev/ttyS0", "baudrate": 0}, "baudrate"),
    ({"backend": "file", "path": "out.bin", "port": "9100"}, "port"),  # another backend's option, mistyped
    ({"backend": "file", "path": "out.bin", "connect_timeout": 0}, "connect_timeout"),
    ({"backend": "file", "path": "out.bin", "profile": "NoSuchPrinter"}, "profile"),
], ids=repr)
def test_the_backends_option_rule_names_the_bad_key(options, key):
    from printers.backends import checked_options

    with pytest.raises(PrinterConfigError, match=rf"^printers\.p\.{key}: "):
        checked_options("p", options)


def test_checked_options_types_what_backends_read_and_keeps_the_callers_keys():
    from printers.backends import checked_options

    options = {"backend": "network", "host": "10.0.0.5", "port": 9100, "io_timeout": 2, "fallback": "desk",
               "hold_seconds": 30, "location": "Lobby"}
    checked = checked_options("p", options)
    assert checked == {**options, "io_timeout": 2.0} and isinstance(checked["io_timeout"], float)
    assert options["io_timeout"] == 2 and isinstance(options["io_timeout"], int)  # the caller's table is untouched
