"""ESC/POS job bytes for a badge image (built by python-escpos) and the reverse: a command-stream parser.

The parser walks the byte stream command by command, skipping each known command with its exact length, so a
byte inside raster data is never mistaken for a real-time status query (DLE EOT) or a cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image, ImageChops

DLE, ESC, GS = 0x10, 0x1B, 0x1D

# ESC x followed by this many parameter bytes (the ones python-escpos and common drivers emit).
_ESC_ARGS = {
    0x40: 0,  # ESC @ init
    0x32: 0,  # ESC 2 default line spacing
    0x3C: 0,  # ESC < return home
    0x21: 1, 0x2D: 1, 0x33: 1, 0x45: 1, 0x47: 1, 0x4A: 1, 0x4D: 1, 0x52: 1, 0x53: 0, 0x4C: 0,
    0x54: 1, 0x56: 1, 0x61: 1, 0x64: 1, 0x65: 1, 0x74: 1, 0x7B: 1, 0x20: 1, 0x25: 1, 0x3D: 1,
    0x69: 0, 0x6D: 0,  # ESC i / ESC m: partial cut (older models)
    0x24: 2, 0x5C: 2, 0x70: 3, 0x57: 8, 0x4B: 0,
}
# ESC c n m (panel buttons, paper sensors) takes two parameter bytes after "c".
_ESC_C_ARGS = 2

# GS x followed by this many parameter bytes.
_GS_ARGS = {
    0x21: 1, 0x42: 1, 0x48: 1, 0x49: 1, 0x61: 1, 0x62: 1, 0x66: 1, 0x68: 1, 0x77: 1, 0x72: 1,
    0x4C: 2, 0x57: 2, 0x24: 2, 0x5C: 2, 0x3A: 0, 0x54: 1, 0x50: 2,
}

_DLE_ARGS = {0x04: 1, 0x05: 1, 0x14: 3}


def job_bytes(image: Image.Image, *, profile: str = "TM-T88V") -> bytes:
    """The ESC/POS bytes of one badge: init, the image as GS v 0 raster, feed and cut (through python-escpos)."""
    from escpos.printer import Dummy

    printer = Dummy(profile=profile)
    printer.hw("INIT")
    printer._raw(raster_command(image))
    printer.cut()
    return printer.output


def raster_command(image: Image.Image) -> bytes:
    """GS v 0 for a mode "1" image: the bytes python-escpos's ``image(impl="bitImageRaster")`` emits.

    python-escpos goes through RGBA, greyscale and back (about 10 ms for a badge); a badge is already black and
    white, so inverting it is all that is needed. tests/printers/test_raster.py checks the two agree byte for byte.
    """
    if image.mode != "1":
        image = image.convert("1")
    width_bytes = (image.width + 7) // 8
    # ESC/POS bit 1 = a black dot; PIL's mode "1" bit 1 = white. Rows are padded to whole bytes with white.
    data = ImageChops.invert(image).tobytes()
    return (b"\x1dv0\x00" + width_bytes.to_bytes(2, "little") + image.height.to_bytes(2, "little") + data)


def _raster_image(width_bytes: int, height: int, data: bytes, width: int | None = None) -> Image.Image:
    """A mode "1" image from ESC/POS raster rows (bit 1 = a printed, black dot)."""
    image = Image.frombytes("1", (width_bytes * 8, height), bytes(data))
    image = ImageChops.invert(image)  # PIL's mode "1" has bit 1 = white
    if width is not None and width != width_bytes * 8:
        image = image.crop((0, 0, width, height))
    return image


@dataclass
class _Columns:
    """ESC * stripes collected until the column-format image ends."""

    stripes: list[Image.Image] = field(default_factory=list)

    def image(self) -> Image.Image:
        width = max(s.width for s in self.stripes)
        out = Image.new("1", (width, sum(s.height for s in self.stripes)), 255)
        y = 0
        for stripe in self.stripes:
            out.paste(stripe, (0, y))
            y += stripe.height
        return out


def _column_stripe(mode: int, columns: int, data: bytes) -> Image.Image:
    """One ESC * stripe: ``columns`` columns of 8 or 24 dots, most significant bit on top."""
    dots = 24 if mode in (32, 33) else 8
    per = dots // 8
    # Each column is one row of the transposed image; transpose back.
    stripe = _raster_image(per, columns, data).transpose(Image.Transpose.TRANSPOSE)
    return stripe.crop((0, 0, columns, dots))


class EscPosParser:
    """Incremental ESC/POS command parser: feed bytes, get events.

    Events are tuples: ("status", n) for DLE EOT n, ("transmit_status", n) for GS r n, ("image", PIL.Image),
    ("cut",), ("init",), ("text", bytes), ("other", bytes) for anything else recognised.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._graphics: Image.Image | None = None  # GS ( L stored graphics waiting for its print command
        self._columns: _Columns | None = None
        #: Bytes consumed so far that were real-time status queries (not part of the job body).
        self.status_bytes = 0
        #: All bytes consumed so far.
        self.consumed = 0

    def feed(self, data: bytes) -> list[tuple]:
        """Parse as many whole commands as ``data`` completes; keep the rest for the next call."""
        self._buf += data
        events: list[tuple] = []
        buf = self._buf
        pos = 0
        end = len(buf)
        while pos < end:
            size = self._command(buf, pos, end, events)
            if size == 0:
                break  # incomplete command: wait for more bytes
            pos += size
        if pos:
            del self._buf[:pos]
            self.consumed += pos
        return events

    def finish(self) -> list[tuple]:
        """End of stream: flush a pending column-format image (an incomplete command is dropped)."""
        events: list[tuple] = []
        self._flush_columns(events)
        return events

    @property
    def pending(self) -> int:
        """Bytes of an incomplete command still waiting for the rest."""
        return len(self._buf)

    def _flush_columns(self, events: list[tuple]) -> None:
        if self._columns is not None:
            events.append(("image", self._columns.image()))
            self._columns = None

    def _command(self, buf: bytearray, pos: int, end: int, events: list[tuple]) -> int:
        """Parse one command at ``pos``; return its length, or 0 if more bytes are needed."""
        first = buf[pos]
        if first == DLE:
            if pos + 1 >= end:
                return 0
            n = _DLE_ARGS.get(buf[pos + 1])
            if n is None:
                return 1  # a stray DLE byte: skip it
            if pos + 2 + n > end:
                return 0
            if buf[pos + 1] == 0x04:
                events.append(("status", buf[pos + 2]))
                self.status_bytes += 3
            return 2 + n
        if first == ESC:
            if pos + 1 >= end:
                return 0
            cmd = buf[pos + 1]
            if cmd == 0x2A:  # ESC * m nL nH d...: one stripe of column-format image
                if pos + 5 > end:
                    return 0
                mode, columns = buf[pos + 2], buf[pos + 3] | buf[pos + 4] << 8
                size = 5 + columns * (3 if mode in (32, 33) else 1)
                if pos + size > end:
                    return 0
                if self._columns is None:
                    self._columns = _Columns()
                self._columns.stripes.append(_column_stripe(mode, columns, buf[pos + 5:pos + size]))
                return size
            if cmd == 0x63:
                size = 2 + _ESC_C_ARGS
            elif cmd == 0x44:  # ESC D tab stops, NUL-terminated
                stop = buf.find(b"\x00", pos + 2, end)
                if stop < 0:
                    return 0
                size = stop + 1 - pos
            else:
                size = 2 + _ESC_ARGS.get(cmd, 0)
            if pos + size > end:
                return 0
            if cmd == 0x40:
                self._flush_columns(events)
                events.append(("init",))
            elif cmd in (0x33, 0x32):
                pass  # line spacing around ESC * stripes; does not end a column image
            elif cmd in (0x69, 0x6D):
                self._flush_columns(events)
                events.append(("cut",))
            else:
                self._flush_columns(events)
                events.append(("other", bytes(buf[pos:pos + size])))
            return size
        if first == GS:
            if pos + 1 >= end:
                return 0
            cmd = buf[pos + 1]
            if cmd == 0x76:  # GS v 0 m xL xH yL yH d...: raster bit image
                if pos + 8 > end:
                    return 0
                width_bytes = buf[pos + 4] | buf[pos + 5] << 8
                height = buf[pos + 6] | buf[pos + 7] << 8
                size = 8 + width_bytes * height
                if pos + size > end:
                    return 0
                self._flush_columns(events)
                if width_bytes and height:
                    events.append(("image", _raster_image(width_bytes, height, buf[pos + 8:pos + size])))
                return size
            if cmd == 0x28 or cmd == 0x38:  # GS ( x pL pH ... / GS 8 L p1 p2 p3 p4 ...: length-prefixed
                header = 5 if cmd == 0x28 else 7
                if pos + header > end:
                    return 0
                if cmd == 0x28:
                    length = buf[pos + 3] | buf[pos + 4] << 8
                else:
                    length = int.from_bytes(buf[pos + 3:pos + 7], "little")
                size = header + length
                if pos + size > end:
                    return 0
                self._flush_columns(events)
                if buf[pos + 2] == 0x4C:  # "L": graphics
                    self._graphics_command(bytes(buf[pos + header:pos + size]), events)
                else:
                    events.append(("other", bytes(buf[pos:pos + size])))
                return size
            if cmd == 0x56:  # GS V m [n]: cut
                if pos + 3 > end:
                    return 0
                size = 4 if buf[pos + 2] in (65, 66, 97, 98, 103, 104) else 3
                if pos + size > end:
                    return 0
                self._flush_columns(events)
                events.append(("cut",))
                return size
            if cmd == 0x6B:  # GS k m ...: barcode, NUL-terminated (m < 65) or length-prefixed
                if pos + 3 > end:
                    return 0
                if buf[pos + 2] < 65:
                    stop = buf.find(b"\x00", pos + 3, end)
                    if stop < 0:
                        return 0
                    size = stop + 1 - pos
                else:
                    if pos + 4 > end:
                        return 0
                    size = 4 + buf[pos + 3]
                if pos + size > end:
                    return 0
                self._flush_columns(events)
                events.append(("other", bytes(buf[pos:pos + size])))
                return size
            size = 2 + _GS_ARGS.get(cmd, 0)
            if pos + size > end:
                return 0
            self._flush_columns(events)
            if cmd == 0x72:
                events.append(("transmit_status", buf[pos + 2]))
            else:
                events.append(("other", bytes(buf[pos:pos + size])))
            return size
        if first == 0x0A and self._columns is not None:
            return 1  # the line feed that ends each ESC * stripe
        # Printable text (and LF, CR, HT, FF): up to the next command byte.
        stop = pos + 1
        while stop < end and buf[stop] not in (DLE, ESC, GS):
            stop += 1
        self._flush_columns(events)
        events.append(("text", bytes(buf[pos:stop])))
        return stop - pos

    def _graphics_command(self, body: bytes, events: list[tuple]) -> None:
        """GS ( L / GS 8 L: store raster graphics (fn 112) and print them (fn 50)."""
        if len(body) < 2:
            return
        fn = body[1]
        if fn == 112 and len(body) >= 10:  # m fn a bx by c xL xH yL yH d...
            width = body[6] | body[7] << 8
            height = body[8] | body[9] << 8
            width_bytes = (width + 7) // 8
            data = body[10:10 + width_bytes * height]
            if width and height and len(data) == width_bytes * height:
                self._graphics = _raster_image(width_bytes, height, data, width)
        elif fn == 50 and self._graphics is not None:
            events.append(("image", self._graphics))
            self._graphics = None
        else:
            events.append(("other", body))


def decode_raster(data: bytes) -> list[Image.Image]:
    """The images a stream of ESC/POS bytes prints (GS v 0, GS ( L and ESC *), in order, as mode "1" images."""
    parser = EscPosParser()
    events = parser.feed(data) + parser.finish()
    return [event[1] for event in events if event[0] == "image"]
