"""Badge layout: a BadgeData record becomes a pure black-and-white image at the printer's width in dots.

Every size is given for a 576-dot (203 dpi, 72 mm printable) head and scaled by ``width / 576``, so a 512-dot
(180 dpi) printer gets the same badge in millimetres.
"""

from __future__ import annotations

import dataclasses
import io
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import qrcode
from PIL import Image, ImageDraw, ImageFont, features

BASE_WIDTH = 576
#: About 100 mm of paper at 8 dots per mm (203 dpi); scaled with the width.
BASE_HEIGHT = 800
MARGIN = 16
#: The smallest font size of a name (dots at 576 wide): a name too long for three lines at a larger size
#: takes more lines at this size, and is never cut.
NAME_MIN_SIZE = 24
REPLACEMENT = "\ufffd"
#: Mode "1" pixel values: 255 (not 1) for white, or inverting and other point operations go wrong.
WHITE, BLACK = 255, 0
ELLIPSIS = "\u2026"
#: A code point no font maps: its rendering is the font's .notdef glyph ("tofu").
_NOT_A_CHARACTER = "\uffff"


@dataclass(frozen=True)
class BadgeData:
    """What is printed on one badge (plain values: no database objects)."""

    badge_name: str
    band_text: str
    event_name: str
    code: str = ""  # "" = on-screen preview: an outlined placeholder instead of the QR
    title: str = ""
    organization: str = ""
    band_color: str = "#000000"  # kept for colour previews; a thermal head prints black only
    serial: str = ""


@dataclass(frozen=True)
class RenderResult:
    """A rendered badge: the image, the characters the font could not draw, and where each text landed."""

    image: Image.Image
    missing_glyphs: tuple[str, ...] = ()
    #: field name -> (left, top, right, bottom) of the ink actually drawn, in dots.
    text_boxes: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    #: field name -> the lines printed, each with the space it was broken at (see ``_Placed.pieces``).
    text_lines: dict[str, tuple[str, ...]] = field(default_factory=dict)


# -- fonts ------------------------------------------------------------------------------------------------------

_FONT_FILES = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}
# Raqm shapes scripts that need it (Arabic, Indic, combining marks); the basic engine is the fallback.
_LAYOUT = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
_font_lock = threading.Lock()


@lru_cache(maxsize=None)
def _font_bytes(bold: bool) -> bytes:
    """The bundled font file (read once; never a font of the machine)."""
    return resources.files("printers").joinpath("fonts").joinpath(_FONT_FILES[bold]).read_bytes()


@lru_cache(maxsize=512)
def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    """The bundled font at ``size`` px (loading costs ~70 us, so every size is kept)."""
    with _font_lock:
        return ImageFont.truetype(io.BytesIO(_font_bytes(bold)), size, layout_engine=_LAYOUT)


@lru_cache(maxsize=2)
def _notdef_mask(bold: bool) -> bytes:
    return _glyph_mask(bold, _NOT_A_CHARACTER)


def _glyph_mask(bold: bool, char: str) -> bytes:
    font = _font(bold, 24)
    box = font.getbbox(char)
    image = Image.new("1", (max(box[2], 1) + 2, 40), 0)
    ImageDraw.Draw(image).text((1, 1), char, font=font, fill=255)
    return image.tobytes() + repr(box).encode()


@lru_cache(maxsize=8192)
def has_glyph(char: str, bold: bool = False) -> bool:
    """True if the bundled font draws ``char`` (rather than its .notdef box)."""
    if char.isspace():
        return True
    return _glyph_mask(bold, char) != _notdef_mask(bold)


# -- text clean-up ------------------------------------------------------------------------------------------------

_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co"}


def printable_text(text: str) -> str:
    """What the badge draws of ``text``: NFC, control/format characters and variation selectors dropped,
    whitespace collapsed.

    Not a validator (that is ``registration.text.clean_text``, which refuses such input at the edge): this
    leaf library draws whatever it is handed and must not trust its caller, so it drops what it cannot draw.
    """
    text = unicodedata.normalize("NFC", text or "")
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Zl", "Zp") or char in "\t\n\r\v\f":
            kept.append(" ")
        elif category in _DROP_CATEGORIES or "\ufe00" <= char <= "\ufe0f" or "\U000e0100" <= char <= "\U000e01ef":
            continue
        else:
            kept.append(char)
    return " ".join("".join(kept).split())


def _visible(text: str, bold: bool, missing: list[str]) -> str:
    """``text`` with every character the font cannot draw replaced by a visible mark (and recorded)."""
    out = []
    for char in text:
        if has_glyph(char, bold):
            out.append(char)
        else:
            if char not in missing:
                missing.append(char)
            out.append(REPLACEMENT)
    return "".join(out)


# -- fitting text into a box --------------------------------------------------------------------------------------

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class _Placed:
    """Lines of text at one font size, with each line's origin (anchor "la") and the union of their ink."""

    font: ImageFont.FreeTypeFont
    lines: tuple[str, ...]
    origins: tuple[tuple[int, int], ...]
    box: Box
    #: The lines as cut from the text, with the spaces they were broken at: ``"".join(pieces)`` is the text
    #: printed, unless it was cut (then the lines end in an ellipsis). Empty = the same as ``lines``.
    pieces: tuple[str, ...] = ()


@lru_cache(maxsize=65536)
def _ink(bold: bool, size: int, text: str) -> Box:
    """Ink box of ``text`` drawn at (0, 0) with anchor "la" (cached: names repeat across sizes and badges)."""
    return _font(bold, size).getbbox(text, anchor="la")


def _place(lines: tuple[str, ...], region: Box, bold: bool, size: int) -> _Placed | None:
    """Centre ``lines`` in ``region`` at ``size``; None when the ink would leave the region."""
    x0, y0, x1, y1 = region
    font = _font(bold, size)
    ascent, descent = font.getmetrics()
    line_height = ascent + descent
    top = y0 + (y1 - y0 - line_height * len(lines)) // 2
    origins, boxes = [], []
    for i, line in enumerate(lines):
        left, upper, right, lower = _ink(bold, size, line)
        if right - left > x1 - x0:
            return None
        x = x0 + (x1 - x0 - (right - left)) // 2 - left
        y = top + i * line_height
        origins.append((x, y))
        boxes.append((x + left, y + upper, x + right, y + lower))
    box = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    if box[3] - box[1] > y1 - y0:
        return None
    # Tall accents (e.g. a ring over a capital) may rise above the ascent line: shift the block back inside.
    shift = max(0, y0 - box[1]) - max(0, box[3] - y1)
    if shift:
        origins = [(x, y + shift) for x, y in origins]
        box = (box[0], box[1] + shift, box[2], box[3] + shift)
    return _Placed(font, tuple(lines), tuple(origins), box)


def _largest(lines: tuple[str, ...], region: Box, bold: bool, sizes: tuple[int, int]) -> _Placed | None:
    """The largest size in ``sizes`` (max, min) at which ``lines`` fit in ``region``, or None.

    Ink grows in proportion to the font size, so one measurement at the largest size gives a near-exact estimate;
    a step or two from there finds the exact size (a binary search costs three times as many measurements).
    """
    high, low = sizes
    x0, y0, x1, y1 = region
    widest = max(_width(bold, high, line) for line in lines)
    ascent, descent = _font(bold, high).getmetrics()
    by_width = high * (x1 - x0) // max(widest, 1)
    by_height = high * (y1 - y0) // ((ascent + descent) * len(lines))
    size = max(low, min(high, by_width, by_height))
    placed = _place(lines, region, bold, size)
    while placed is None and size > low:  # the estimate was a little large (hinting, accents above the ascent)
        size -= 1
        placed = _place(lines, region, bold, size)
    while placed is not None and size < high:  # or a little small
        bigger = _place(lines, region, bold, size + 1)
        if bigger is None:
            break
        placed, size = bigger, size + 1
    return placed


def _width(bold: bool, size: int, text: str) -> int:
    left, _, right, _ = _ink(bold, size, text)
    return right - left


#: Where a line may end: after a space (dropped from the line) or after a hyphen (kept on the line).
_BREAK_AFTER = re.compile(r"[^ \-\u2010]*(?:[ \-\u2010]+|$)")


def _tokens(text: str) -> list[str]:
    """``text`` in pieces that each end where a line may break; ``"".join(pieces) == text``."""
    return [piece for piece in _BREAK_AFTER.findall(text) if piece]


def _clusters(word: str) -> list[str]:
    """``word`` in characters, each with the combining marks that follow it (never split from their base)."""
    out: list[str] = []
    for char in word:
        if out and unicodedata.combining(char):
            out[-1] += char
        else:
            out.append(char)
    return out


def _wrap(tokens: list[str], widths: list[float], space: float, limit: float) -> list[str]:
    """Greedy lines of at most ``limit`` wide (each line's trailing spaces not counted); lines keep separators."""
    lines: list[str] = []
    line, width = "", 0.0
    for token, token_width in zip(tokens, widths):
        trailing = len(token) - len(token.rstrip(" "))
        if line and width + token_width - trailing * space > limit:
            lines.append(line)
            line, width = "", 0.0
        line += token
        width += token_width
    if line:
        lines.append(line)
    return lines


def _balanced(tokens: list[str], count: int, bold: bool, size: int) -> list[str] | None:
    """The ``count`` lines (or fewer) whose widest line is narrowest, breaking only between ``tokens``.

    Greedy wrapping at the narrowest width that still needs no more than ``count`` lines is optimal for this
    (a min-max partition), and the width is found by bisection over measured token widths.
    """
    if len(tokens) < count:
        return None
    font = _font(bold, size)
    widths = [font.getlength(t) for t in tokens]
    space = font.getlength(" ")
    low = max(w - (len(t) - len(t.rstrip(" "))) * space for t, w in zip(tokens, widths))
    high = sum(widths)
    while high - low > 0.5:
        middle = (low + high) / 2
        if len(_wrap(tokens, widths, space, middle)) <= count:
            high = middle
        else:
            low = middle
    lines = _wrap(tokens, widths, space, high)
    return lines if len(lines) == count else None


def _split_wide(tokens: list[str], width: int, bold: bool, size: int) -> list[str]:
    """``tokens`` with every word wider than ``width`` at ``size`` split into its characters (break anywhere)."""
    font = _font(bold, size)
    out: list[str] = []
    for token in tokens:
        if font.getlength(token.rstrip(" ")) > width:
            out.extend(_clusters(token))
        else:
            out.append(token)
    return out


def _filled(text: str, width: int, bold: bool, size: int) -> list[str]:
    """Lines as full as ``width`` allows at ``size``: at spaces and hyphens, and inside a word only when the
    word alone is wider than the line (the name is then still printed whole, never cut)."""
    font = _font(bold, size)
    pieces = _split_wide(_tokens(text), width, bold, size)
    widths = [font.getlength(p) for p in pieces]
    return _wrap(pieces, widths, font.getlength(" "), width)


def _prefix_that_fits(text: str, width: int, bold: bool, size: int, suffix: str = "") -> int:
    """The most characters of ``text`` that fit in ``width`` with ``suffix`` after them (binary search)."""
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if _width(bold, size, text[:mid].rstrip() + suffix) <= width:
            low = mid
        else:
            high = mid - 1
    return low


def _ellipsized(text: str, width: int, bold: bool, size: int) -> str:
    """``text`` cut to fit ``width`` with an ellipsis (the last resort of the fields that may be cut)."""
    if _width(bold, size, text) <= width:
        return text
    return text[:_prefix_that_fits(text, width, bold, size, ELLIPSIS)].rstrip() + ELLIPSIS


def _placed_lines(pieces: list[str], region: Box, bold: bool, sizes: tuple[int, int]) -> _Placed | None:
    """``pieces`` (lines with their separators) at the largest size in ``sizes`` that fits, or None."""
    placed = _largest(tuple(p.rstrip(" ") for p in pieces), region, bold, sizes)
    return dataclasses.replace(placed, pieces=tuple(pieces)) if placed is not None else None


def fit_text(text: str, region: Box, *, bold: bool, sizes: tuple[tuple[int, int], ...],
             never_cut: bool = False) -> _Placed | None:
    """Lay ``text`` out in ``region``: one line shrinking to its minimum, then two lines, then three (one line
    count per entry of ``sizes``, each a (largest, smallest) font size), breaking at spaces and after hyphens.

    Past that, a field that may be cut ends in an ellipsis at the smallest size; a ``never_cut`` field (the
    name) takes four, five, ... balanced lines within the last size range, breaking inside a word only where
    one word is wider than the badge, and would shrink below the smallest size only if even that did not hold
    it (no name of the registration's length does: tests/printers/test_badge.py).
    """
    if not text:
        return None
    tokens = _tokens(text)
    width = region[2] - region[0]
    for count, line_sizes in enumerate(sizes, 1):
        if count == 1:
            placed = _placed_lines([text], region, bold, line_sizes)
            if placed is not None:
                return placed
            continue
        # Between words first; then, for a name, also inside a word too wide for a line at this line count.
        choices = [tokens]
        if never_cut:
            split = _split_wide(tokens, width, bold, line_sizes[1])
            if split != tokens:
                choices.append(split)
        for choice in choices:
            pieces = _balanced(choice, count, bold, line_sizes[0])
            placed = _placed_lines(pieces, region, bold, line_sizes) if pieces is not None else None
            if placed is not None:
                return placed
    size = sizes[-1][1]
    if never_cut:
        # More lines, balanced, each count at the largest size from the last range that fits the region.
        ascent, descent = _font(bold, size).getmetrics()
        most = (region[3] - region[1]) // (ascent + descent)
        split = _split_wide(tokens, width, bold, size)
        for count in range(len(sizes) + 1, min(most, len(split)) + 1):
            pieces = _balanced(split, count, bold, sizes[-1][0])
            placed = _placed_lines(pieces, region, bold, sizes[-1]) if pieces is not None else None
            if placed is not None:
                return placed
        while True:  # only for letters wider than any this font has for Latin, Greek and Cyrillic
            pieces = _filled(text, width, bold, size)
            placed = _place(tuple(p.rstrip(" ") for p in pieces), region, bold, size)
            if placed is not None or size == 1:
                return dataclasses.replace(placed, pieces=tuple(pieces)) if placed is not None else None
            size -= 1
    if len(sizes) == 1:
        return _place((_ellipsized(text, width, bold, size),), region, bold, size)
    # Two lines at the smallest size: the first as full as it gets, the second ending in an ellipsis.
    cut = max(_prefix_that_fits(text, width, bold, size), 1)
    space = text.rfind(" ", 0, cut + 1)
    if space > 0:
        cut = space
    first, rest = text[:cut].rstrip(), text[cut:].strip()
    lines = (first, _ellipsized(rest, width, bold, size)) if rest else (first,)
    return _place(lines, region, bold, size)


# -- QR -------------------------------------------------------------------------------------------------------------

QR_QUIET_MODULES = 4


_FINDER_LIKE = re.compile(b"(?=\x01\x00\x01\x01\x01\x00\x01\x00\x00\x00\x00|"
                          b"\x00\x00\x00\x00\x01\x00\x01\x01\x01\x00\x01)")
_RUN = re.compile(b"\x00{5,}|\x01{5,}")
_AS_DIGITS = bytes.maketrans(b"\x00\x01", b"01")


def mask_penalty(modules: list[list[bool]]) -> int:
    """ISO 18004 mask penalty, equal to ``qrcode.util.lost_point`` but computed with C-level bytes and ints.

    qrcode scores each of the 8 masks in pure Python (about 0.4 ms each, 3 ms a badge); this takes ~0.05 ms.
    """
    n = len(modules)
    rows = [bytes(row) for row in modules]
    columns = [bytes(column) for column in zip(*modules)]
    # Every row and column in one string, separated so no run or pattern spans two lines: 4 regex calls, not 4n.
    lines = b"\x02".join(rows + columns)
    runs = _RUN.findall(lines)  # N1: runs of five or more, 3 points + 1 per module beyond five
    penalty = sum(map(len, runs)) - 2 * len(runs)
    penalty += 40 * len(_FINDER_LIKE.findall(lines))  # N3: 1:1:3:1:1 with four light modules beside
    as_ints = [int(row.translate(_AS_DIGITS), 2) for row in rows]  # one bit per module
    full = (1 << (n - 1)) - 1
    for upper, lower in zip(as_ints, as_ints[1:]):  # N2: 2x2 blocks of one colour
        same = ~(upper ^ lower) & ~(upper ^ (upper >> 1)) & ~(lower ^ (lower >> 1)) & full
        same &= ~((upper ^ lower) >> 1)
        penalty += 3 * bin(same).count("1")
    dark = sum(row.count(1) for row in rows)  # N4: balance of dark and light
    penalty += 10 * int(abs(dark * 100 / (n * n) - 50) / 5)
    return penalty


@lru_cache(maxsize=64)
def _mask_flips(cells: tuple[tuple[int, int], ...], mask: int) -> tuple[tuple[int, int], ...]:
    """The data cells where ``mask`` and mask 0 differ: turning one masked matrix into the other flips these."""
    first, other = qrcode.util.mask_func(0), qrcode.util.mask_func(mask)
    return tuple((r, c) for r, c in cells if first(r, c) != other(r, c))


class _QRCode(qrcode.QRCode):
    """qrcode's QRCode choosing the same mask faster: data placed once, each other mask made by flipping cells.

    qrcode places the data 8 times and scores each mask in pure Python (about 3 ms a badge); the masks differ only
    in the data cells, so one placement and a cached list of cells to flip per mask give the same 8 matrices.
    tests/printers/test_badge.py checks the result equals qrcode's own matrix.
    """

    _data_cells: tuple[tuple[int, int], ...] | None = None

    def map_data(self, data, mask_pattern):
        if self._data_cells is None:  # the cells still empty when data is placed: exactly the ones masks touch
            self._data_cells = tuple((r, c) for r, row in enumerate(self.modules) for c, v in enumerate(row)
                                     if v is None)
        super().map_data(data, mask_pattern)

    def best_mask_pattern(self) -> int:
        self._data_cells = None
        self.makeImpl(True, 0)
        base = self.modules
        best, pattern = mask_penalty(base), 0
        for mask in range(1, 8):
            modules = [row[:] for row in base]
            for r, c in _mask_flips(self._data_cells, mask):
                modules[r][c] = not modules[r][c]
            penalty = mask_penalty(modules)
            if penalty < best:
                best, pattern = penalty, mask
        return pattern


def qr_matrix(code: str) -> list[list[bool]]:
    """The QR modules of ``code`` with a 4-module quiet zone (upper-case keeps it in alphanumeric mode)."""
    qr = _QRCode(version=None, error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=1,
                 border=QR_QUIET_MODULES)
    qr.add_data(code.upper())
    qr.make(fit=True)
    return qr.get_matrix()


def _qr_image(matrix: list[list[bool]], module: int) -> Image.Image:
    """A QR matrix as a mode "1" image, ``module`` dots per module (quiet zone included)."""
    n = len(matrix)
    # Mode "1" from bytes: 8 modules per byte, bit 1 = white.
    row_bytes = (n + 7) // 8
    data = bytearray()
    for row in matrix:
        bits = 0
        for dark in row:
            bits = bits << 1 | (0 if dark else 1)
        bits <<= row_bytes * 8 - n
        data += bits.to_bytes(row_bytes, "big")
    small = Image.frombytes("1", (row_bytes * 8, n), bytes(data)).crop((0, 0, n, n))
    return small.resize((n * module, n * module), Image.Resampling.NEAREST)


# -- layout -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Layout:
    """Regions and font sizes of a badge at one printer width."""

    width: int
    height: int
    margin: int
    band: Box
    band_text: Box
    name: Box
    title: Box
    organization: Box
    event: Box
    serial: Box
    qr: Box
    module: int
    sizes: dict


#: Modules of a version 2 QR plus its quiet zone: what a badge code needs; the placeholder is drawn this size.
_QR_MODULES = 25 + 2 * QR_QUIET_MODULES


@lru_cache(maxsize=16)
def layout_for(width: int) -> _Layout:
    """The badge layout for a head ``width`` dots wide (cached: computed once per printer model)."""
    if width < 200:
        raise ValueError(f"badge width {width} is too narrow (at least 200 dots)")

    def s(value: float) -> int:
        return max(1, round(value * width / BASE_WIDTH))

    m = s(MARGIN)
    height = s(BASE_HEIGHT)
    right = width - m
    band = (m, m, right, m + s(100))
    band_text = (band[0] + s(14), band[1] + s(6), band[2] - s(14), band[3] - s(6))
    name = (m, band[3] + s(24), right, band[3] + s(264))
    title = (m, name[3] + s(10), right, name[3] + s(74))
    organization = (m, title[3] + s(4), right, title[3] + s(68))
    module = max(2, round(6 * width / BASE_WIDTH))
    qr_side = _QR_MODULES * module
    qr = (right - qr_side, height - m - qr_side, right, height - m)
    column = (m, qr[1], qr[0] - s(16), qr[3])
    event = (column[0], column[1] + s(10), column[2], column[1] + s(100))
    serial = (column[0], column[3] - s(40), column[2], column[3])
    # (largest, smallest) font size in dots for one line, two lines, ... At 203 dpi, 24 dots is a 3 mm
    # em: the smallest name size, still read at arm's length (tests/printers/test_badge.py shows that every name
    # the registration accepts, in its widest letters, fits at it).
    sizes = {
        "band": ((s(48), s(22)), (s(34), s(18))),
        "name": ((s(120), s(60)), (s(84), s(38)), (s(60), s(NAME_MIN_SIZE))),
        "title": ((s(38), s(24)), (s(26), s(20))),
        "organization": ((s(38), s(24)), (s(26), s(20))),
        "event": ((s(32), s(22)), (s(30), s(18))),
        "serial": ((s(26), s(16)),),
    }
    return _Layout(width, height, m, band, band_text, name, title, organization, event, serial, qr, module, sizes)


def _draw_placed(draw: ImageDraw.ImageDraw, placed: _Placed, fill: int) -> None:
    for line, origin in zip(placed.lines, placed.origins):
        draw.text(origin, line, font=placed.font, fill=fill, anchor="la")


def _placeholder(draw: ImageDraw.ImageDraw, box: Box, module: int) -> None:
    """An outlined box where the QR will be, with a visible "QR" label: never a scannable code on screen."""
    x0, y0, x1, y1 = box
    inset = module * 2
    frame = (x0 + inset, y0 + inset, x1 - inset - 1, y1 - inset - 1)
    draw.rectangle(frame, outline=0, width=max(2, module // 2))
    draw.line((frame[0], frame[1], frame[2], frame[3]), fill=0, width=1)
    draw.line((frame[0], frame[3], frame[2], frame[1]), fill=0, width=1)
    font = _font(True, max(12, module * 5))
    label = "QR"
    left, top, right, bottom = font.getbbox(label, anchor="la")
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    pad = module
    draw.rectangle((cx - (right - left) // 2 - pad, cy - (bottom - top) // 2 - pad,
                    cx + (right - left) // 2 + pad, cy + (bottom - top) // 2 + pad), fill=WHITE)
    draw.text((cx - (right - left) // 2 - left, cy - (bottom - top) // 2 - top), label, font=font, fill=0,
              anchor="la")


#: One FreeType face is shared by every thread of the process; FreeType faces are not safe for concurrent use.
_render_lock = threading.Lock()


def render_badge(data: BadgeData, *, width: int = BASE_WIDTH) -> RenderResult:
    """Render ``data`` as a mode "1" badge ``width`` dots wide (about 100 mm long)."""
    with _render_lock:
        return _render(data, layout_for(width))


def _render(data: BadgeData, layout: _Layout) -> RenderResult:
    image = Image.new("1", (layout.width, layout.height), WHITE)
    draw = ImageDraw.Draw(image)
    missing: list[str] = []
    boxes: dict[str, Box] = {}

    # Band: a solid block with the pass's text in white, so a guest pass is told apart at a glance.
    draw.rectangle((layout.band[0], layout.band[1], layout.band[2] - 1, layout.band[3] - 1), fill=0)
    boxes["band"] = layout.band
    fields = (
        ("band_text", data.band_text, layout.band_text, True, "band", WHITE),
        ("badge_name", data.badge_name, layout.name, True, "name", 0),
        ("title", data.title, layout.title, False, "title", 0),
        ("organization", data.organization, layout.organization, True, "organization", 0),
        ("event_name", data.event_name, layout.event, True, "event", 0),
        ("serial", data.serial, layout.serial, False, "serial", 0),
    )
    lines: dict[str, tuple[str, ...]] = {}
    for key, raw, region, bold, sizes, fill in fields:
        text = _visible(printable_text(raw), bold, missing)
        placed = fit_text(text, region, bold=bold, sizes=layout.sizes[sizes], never_cut=key == "badge_name")
        if placed is not None:
            _draw_placed(draw, placed, fill)
            boxes[key] = placed.box
            lines[key] = placed.pieces or placed.lines

    code = printable_text(data.code)
    if code:
        matrix = qr_matrix(code)
        # A longer code than a badge code needs more modules: smaller modules keep it inside its box.
        module = max(1, min(layout.module, (layout.qr[2] - layout.qr[0]) // len(matrix)))
        qr = _qr_image(matrix, module)
        x1, y1 = layout.qr[2], layout.qr[3]
        box = (x1 - qr.width, y1 - qr.height, x1, y1)
        image.paste(qr, box[:2])
    else:
        box = layout.qr
        _placeholder(draw, box, layout.module)
    boxes["qr"] = box
    return RenderResult(image=image, missing_glyphs=tuple(missing), text_boxes=boxes, text_lines=lines)


def badge_png(data: BadgeData, *, width: int = BASE_WIDTH) -> bytes:
    """The badge of ``data`` as PNG bytes (same layout as printed)."""
    return image_png(render_badge(data, width=width).image)


def image_png(image: Image.Image) -> bytes:
    """A badge image as PNG bytes (1 bit per pixel)."""
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
