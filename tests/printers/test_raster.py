"""ESC/POS bytes: python-escpos's image commands decode back to the image; the parser never misreads data."""

from __future__ import annotations

import random

import pytest
from escpos.printer import Dummy
from PIL import Image

from printers import decode_raster, job_bytes, render_badge
from printers.raster import EscPosParser


def noise(width: int, height: int, seed: int = 1) -> Image.Image:
    """A random black-and-white image: every bit pattern, DLE EOT lookalikes included."""
    rng = random.Random(seed)
    return Image.frombytes("1", (width, height), bytes(rng.getrandbits(8) for _ in range((width + 7) // 8 * height)))


def test_job_is_init_raster_feed_and_cut(badge):
    image = render_badge(badge, width=512).image
    data = job_bytes(image, profile="TM-T88V")
    assert data.startswith(b"\x1b@\x1dv0\x00")
    assert data.endswith(b"\x1dV\x00")
    events = EscPosParser().feed(data)
    assert [e[0] for e in events] == ["init", "image", "other", "cut"]  # ESC d 6 (feed) before the cut
    assert events[1][1].tobytes() == image.tobytes()


@pytest.mark.parametrize("impl", ["bitImageRaster", "graphics", "bitImageColumn"])
@pytest.mark.parametrize("size", [(576, 800), (512, 48), (17, 5), (8, 1)])
def test_every_image_command_decodes_pixel_for_pixel(impl, size):
    image = noise(*size)
    printer = Dummy(profile="TM-L90")
    printer.image(image, impl=impl, fragment_height=2000)
    printer.cut()
    decoded = decode_raster(printer.output)
    assert len(decoded) == 1
    # Column format (ESC *) prints whole 24-dot stripes: the last one is padded with white.
    assert decoded[0].crop((0, 0, *size)).tobytes() == image.tobytes()
    assert decoded[0].crop((0, size[1], decoded[0].width, decoded[0].height)).getextrema() in ((255, 255), None)


def test_fragments_come_back_as_separate_images():
    image = noise(64, 100)
    printer = Dummy(profile="TM-L90")
    printer.image(image, impl="bitImageRaster", fragment_height=40)
    decoded = decode_raster(printer.output)
    assert [d.size for d in decoded] == [(64, 40), (64, 40), (64, 20)]
    stacked = Image.new("1", (64, 100))
    for i, part in enumerate(decoded):
        stacked.paste(part, (0, 40 * i))
    assert stacked.tobytes() == image.tobytes()


def test_dle_eot_inside_raster_data_is_not_a_status_query():
    # A raster whose every row is DLE EOT 1 DLE EOT 2 (inverted: bit 1 = black in ESC/POS).
    row = bytes(b ^ 0xFF for b in b"\x10\x04\x01\x10\x04\x02\x10\x04")
    image = Image.frombytes("1", (64, 50), row * 50)
    data = b"\x10\x04\x01" + job_bytes(image, profile="TM-L90") + b"\x10\x04\x04"
    events = EscPosParser().feed(data)
    assert [e[1] for e in events if e[0] == "status"] == [1, 4]
    assert [e[1].tobytes() for e in events if e[0] == "image"] == [image.tobytes()]


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_parser_gives_the_same_events_however_the_bytes_arrive(chunk):
    image = noise(96, 30, seed=3)
    data = b"\x10\x04\x01" + job_bytes(image, profile="TM-L90") + b"Hello\n\x1dr1\x10\x04\x02"
    parser = EscPosParser()
    events = []
    for start in range(0, len(data), chunk):
        events += parser.feed(data[start:start + chunk])
    kinds = [e[0] for i, e in enumerate(events) if not (e[0] == "text" and events[i - 1][0] == "text")]
    assert b"".join(e[1] for e in events if e[0] == "text") == b"Hello\n"  # text may come in pieces
    assert kinds == ["status", "init", "image", "other", "cut", "text", "transmit_status", "status"]
    assert events[2][1].tobytes() == image.tobytes()
    assert parser.pending == 0 and parser.status_bytes == 6 and parser.consumed == len(data)


def test_an_incomplete_raster_is_not_an_image():
    data = job_bytes(noise(64, 64), profile="TM-L90")
    assert decode_raster(data[:300]) == []


@pytest.mark.parametrize("size", [(576, 800), (512, 711), (13, 3)])
def test_raster_command_is_what_python_escpos_emits(size):
    from printers.raster import raster_command

    image = noise(*size, seed=5)
    printer = Dummy(profile="TM-L90")
    printer.image(image, impl="bitImageRaster", fragment_height=2000)
    assert raster_command(image) == printer.output


def test_job_bytes_use_python_escpos_for_init_feed_and_cut(badge):
    image = render_badge(badge).image
    printer = Dummy(profile="TM-L90")
    printer.hw("INIT")
    printer.image(image, impl="bitImageRaster", fragment_height=2000)
    printer.cut()
    assert job_bytes(image, profile="TM-L90") == printer.output
