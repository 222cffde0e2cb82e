"""Badge layout: size, fields inside the margins, scripts, missing glyphs, band, QR and placeholder."""

from __future__ import annotations

import dataclasses
import io

import pytest
import zxingcpp
from PIL import Image

from printers import BadgeData, badge_png, render_badge
from printers.badge import layout_for

from .conftest import CODE

WIDTHS = [(576, 800), (512, 711)]  # 203 dpi and 180 dpi heads: both about 100 mm long


def black_ratio(image: Image.Image, box) -> float:
    """Share of black dots in ``box`` of a mode "1" image."""
    region = image.crop(box)
    return region.histogram()[0] / (region.width * region.height)


def decode(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image.convert("L"))]


def assert_inside_margins(result, width: int) -> None:
    """Every reported box stays within the margins, and the text fields do not overlap one another."""
    layout = layout_for(width)
    m = layout.margin
    for name, (x0, y0, x1, y1) in result.text_boxes.items():
        assert m <= x0 < x1 <= width - m, (name, result.text_boxes[name])
        assert m <= y0 < y1 <= layout.height - m, (name, result.text_boxes[name])
    texts = {k: v for k, v in result.text_boxes.items() if k not in ("band", "band_text")}
    names = sorted(texts)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = texts[a], texts[b]
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, f"{a} overlaps {b}"
    if "band_text" in result.text_boxes:
        bx0, by0, bx1, by1 = result.text_boxes["band"]
        tx0, ty0, tx1, ty1 = result.text_boxes["band_text"]
        assert bx0 <= tx0 and tx1 <= bx1 and by0 <= ty0 and ty1 <= by1


def assert_boxes_hold_all_ink(result) -> None:
    """No black dot outside the band, the QR and the reported text boxes: nothing drawn where it was not measured."""
    image = result.image.copy()
    for box in result.text_boxes.values():
        image.paste(255, box)
    stray = Image.eval(image, lambda v: 255 - v).getbbox()  # bounding box of the black dots left, if any
    assert stray is None, f"ink outside every reported box around {stray}"


@pytest.mark.parametrize("width, height", WIDTHS)
def test_badge_is_pure_black_and_white_at_the_printer_width(badge, width, height):
    result = render_badge(badge, width=width)
    assert result.image.mode == "1"
    assert result.image.size == (width, height)
    assert result.missing_glyphs == ()
    assert set(result.text_boxes) == {"band", "band_text", "badge_name", "title", "organization", "event_name",
                                      "serial", "qr"}
    assert_inside_margins(result, width)
    assert_boxes_hold_all_ink(result)


#: name, title, organization -> the characters the font cannot draw
NASTY = [
    pytest.param("Wolfeschlegelsteinhausenbergerdorffvortschaferswessenschafewarenwohlgepflegeundsorgfaltigkeit",
                 "", "", (), id="very-long-single-word"),
    pytest.param("María del Carmen Esperanza de los Ángeles Fernández-Castellanos y Rodríguez de la Fuente",
                 "Deputy Assistant Director of Intergovernmental and Legislative Affairs and Special Projects",
                 "Metropolitan Transportation Commission of the Nine-County San Francisco Bay Area", (),
                 id="very-long-multi-word"),
    pytest.param("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýÿĀāĂăĄąĆćČčĎďĘęĚěĞğŁłŃńŇňŐőŒœŘřŚśŞşŠšŢţŤťŮůŰűŸŹźŻżŽž",
                 "", "", (), id="all-latin-accents"),
    pytest.param("Ǻ Å Ṩ ẞ Ǆ", "Q̃ combining", "", (), id="tall-and-combining-accents"),
    pytest.param("Αλέξανδρος Παπαδόπουλος", "Δήμαρχος", "Δήμος Αθηναίων", (), id="greek"),
    pytest.param("Александра Константинопольская", "Глава администрации", "Санкт-Петербург", (), id="cyrillic"),
    pytest.param("José Ñúñez Δημήτρης Жуков", "Ο'Brien-Łukasz", "Zürich", (), id="mixed-scripts"),
    pytest.param("王小明", "市长", "", ("王", "小", "明", "市", "长"), id="cjk"),
    pytest.param("Sam 🦄 Lee", "", "", ("🦄",), id="emoji-missing"),
    pytest.param("W" * 60, "M" * 200, "W" * 200, (), id="widest-letters"),
    pytest.param("Li", "", "", (), id="short-empty-title-and-org"),
    pytest.param("Ada\x00\x07\u202e Lovelace\u200b\ufe0f", "", "", (), id="control-characters"),
]


@pytest.mark.parametrize("width", [576, 512])
@pytest.mark.parametrize("name, title, organization, missing", NASTY)
def test_nasty_names_stay_inside_the_margins(badge, width, name, title, organization, missing):
    data = dataclasses.replace(badge, badge_name=name, title=title, organization=organization)
    result = render_badge(data, width=width)
    assert result.missing_glyphs == missing
    assert "badge_name" in result.text_boxes
    assert ("title" in result.text_boxes) == bool(title)
    assert ("organization" in result.text_boxes) == bool(organization)
    assert_inside_margins(result, width)
    assert_boxes_hold_all_ink(result)
    assert decode(result.image) == [CODE]


def test_long_names_shrink_then_wrap_to_two_lines(badge):
    heights = {}
    for name in ("Li", "Ada Lovelace", "Alexandra Konstantinopoulou"):
        box = render_badge(dataclasses.replace(badge, badge_name=name)).text_boxes["badge_name"]
        heights[name] = box[3] - box[1]
    short, longer, longest = heights.values()
    assert longer < short  # shrunk on one line
    assert longest > 1.5 * longer  # two lines


def test_control_characters_are_not_drawn(badge):
    clean = render_badge(dataclasses.replace(badge, badge_name="Ada Lovelace")).image
    dirty = render_badge(dataclasses.replace(badge, badge_name="Ada\x00\x07\u202e Lovelace\u200b\r\n")).image
    assert dirty.tobytes() == clean.tobytes()


def test_missing_glyphs_are_drawn_as_a_visible_mark(badge):
    plain = render_badge(dataclasses.replace(badge, badge_name="Sam Lee"))
    cjk = render_badge(dataclasses.replace(badge, badge_name="Sam 王 Lee"))
    assert cjk.missing_glyphs == ("王",)
    box = cjk.text_boxes["badge_name"]
    # Wider than the same name without it, and inked where the character stands (not an empty gap).
    assert box[2] - box[0] > plain.text_boxes["badge_name"][2] - plain.text_boxes["badge_name"][0]
    middle = ((box[0] + box[2]) // 2 - 10, box[1], (box[0] + box[2]) // 2 + 10, box[3])
    assert black_ratio(cjk.image, middle) > 0.1


@pytest.mark.parametrize("band_text", ["GUEST — EXPO & RECEPTIONS", "FULL CONFERENCE", "STAFF"])
def test_band_is_a_black_block_with_the_pass_text_in_white(badge, band_text):
    result = render_badge(dataclasses.replace(badge, band_text=band_text))
    band = result.text_boxes["band"]
    assert black_ratio(result.image, band) > 0.6
    text = result.text_boxes["band_text"]
    assert 0.05 < 1 - black_ratio(result.image, text) < 0.8  # white letters inside the block


def test_guest_and_full_bands_differ(badge):
    full = render_badge(badge)
    guest = render_badge(dataclasses.replace(badge, band_text="GUEST — EXPO & RECEPTIONS"))
    band = full.text_boxes["band"]
    assert full.image.crop(band).tobytes() != guest.image.crop(band).tobytes()
    assert full.image.crop((0, band[3], full.image.width, full.image.height)).tobytes() == \
        guest.image.crop((0, band[3], guest.image.width, guest.image.height)).tobytes()


@pytest.mark.parametrize("width", [576, 512])
def test_qr_decodes_to_the_badge_code_with_a_quiet_zone(badge, width):
    result = render_badge(badge, width=width)
    assert decode(result.image) == [CODE]
    x0, y0, x1, y1 = result.text_boxes["qr"]
    module = (x1 - x0) // 33  # version 2 (25 modules) + 4 quiet modules each side
    quiet = 4 * module
    frame = [(x0, y0, x1, y0 + quiet), (x0, y1 - quiet, x1, y1), (x0, y0, x0 + quiet, y1), (x1 - quiet, y0, x1, y1)]
    assert all(black_ratio(result.image, box) == 0 for box in frame)
    assert decode(result.image.crop(result.text_boxes["qr"])) == [CODE]


def test_lower_case_code_is_printed_upper_case(badge):
    assert decode(render_badge(dataclasses.replace(badge, code=CODE.lower())).image) == [CODE]


def test_empty_code_draws_a_placeholder_never_a_qr(badge):
    result = render_badge(dataclasses.replace(badge, code=""))
    assert decode(result.image) == []
    box = result.text_boxes["qr"]
    assert 0.02 < black_ratio(result.image, box) < 0.5  # an outline and a label, not a blank


def test_png_has_the_same_layout(badge):
    png = badge_png(badge, width=512)
    assert png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png))
    assert image.mode == "1"
    assert image.tobytes() == render_badge(badge, width=512).image.tobytes()


def test_rendering_is_deterministic(badge):
    assert render_badge(badge).image.tobytes() == render_badge(badge).image.tobytes()


def test_too_narrow_a_width_is_refused(badge):
    with pytest.raises(ValueError):
        render_badge(badge, width=100)


def test_fonts_come_from_the_package():
    from importlib import resources

    fonts = resources.files("printers").joinpath("fonts")
    assert {"DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE"} <= {p.name for p in fonts.iterdir()}


#: name -> the lines it is laid out on (at the badge's 576 dots)
LINES = [
    ("Ada Lovelace", ("Ada Lovelace",)),
    ("María José Fernández-Castellanos", ("María José Fernández-", "Castellanos")),
    ("Alexandra Konstantinopoulou", ("Alexandra", "Konstantinopoulou")),
    ("María José Rodríguez-Fernández-Villaseñor de la Concepción Martínez",
     ("María José Rodríguez-", "Fernández-Villaseñor de", "la Concepción Martínez")),
]


@pytest.mark.parametrize("name, lines", LINES)
def test_names_break_at_spaces_and_after_hyphens(name, lines):
    from printers.badge import fit_text

    layout = layout_for(576)
    assert fit_text(name, layout.name, bold=True, sizes=layout.sizes["name"], never_cut=True).lines == lines


def sized(text: str, length: int) -> str:
    """``text`` repeated and cut to exactly ``length`` characters, never ending in a space or a hyphen."""
    out = (text * (length // len(text) + 1))[:length]
    return out if out[-1] not in " -" else out[:-1] + "x"


#: The longest badge name the registration accepts (first + last, or a badge name of its own).
from registration.services import NAME_MAX  # noqa: E402

#: Names no badge may cut: every script the font covers, widest letters, words longer than a line, hyphens.
NEVER_CUT = [
    pytest.param("Li", id="short"),
    pytest.param("María José Rodríguez-Fernández-Villanueva", id="the-issue"),
    pytest.param(sized("María del Carmen Esperanza de los Ángeles Fernández-Castellanos y Rodríguez ", NAME_MAX),
                 id="latin-words"),
    pytest.param(sized("Αλέξανδρος Παπαδόπουλος-Χατζηγεωργίου ", NAME_MAX), id="greek"),
    pytest.param(sized("Александра Константинопольская-Щербатская ", NAME_MAX), id="cyrillic"),
    pytest.param(sized("Wolfeschlegelsteinhausenbergerdorffvortschaferswessenschafewarenwohlgepflegeundsorgfaltigkeit",
                       NAME_MAX), id="one-unbreakable-word"),
    pytest.param(sized("Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch Jones", NAME_MAX),
                 id="unbreakable-word-then-name"),
    pytest.param(sized("Ann-Marie-", NAME_MAX), id="hyphens-only"),
    pytest.param(sized("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßĀĂĄĆČĎĘĚĞŁŃŇŐŒŘŚŞŠŢŤŮŰŸŹŻŽ", NAME_MAX),
                 id="diacritics-no-space"),
    pytest.param(sized("Ǻ Å Ṩ ẞ Ǆ Ё Ῡ ", NAME_MAX), id="tall-accents"),
    pytest.param(sized("W", NAME_MAX), id="widest-latin-capital"),
    pytest.param(sized("Ǆ", NAME_MAX), id="widest-letter-in-the-font"),
    pytest.param(sized("Щ", NAME_MAX), id="widest-cyrillic"),
    pytest.param(sized("Ѽ Ω Ж ", NAME_MAX), id="wide-letters-with-spaces"),
    pytest.param(sized("Ǆ-", NAME_MAX), id="widest-letter-and-hyphens"),
]


@pytest.mark.parametrize("width", [576, 512])
@pytest.mark.parametrize("name", NEVER_CUT)
def test_every_name_the_registration_accepts_is_printed_whole(badge, width, name):
    from printers.badge import fit_text

    assert len(name) <= NAME_MAX
    result = render_badge(dataclasses.replace(badge, badge_name=name), width=width)
    assert "".join(result.text_lines["badge_name"]) == name  # every character, in order, nothing added
    layout = layout_for(width)
    placed = fit_text(name, layout.name, bold=True, sizes=layout.sizes["name"], never_cut=True)
    assert placed.font.size >= layout.sizes["name"][-1][1]  # never below the smallest legible size
    left, _, right, _ = result.text_boxes["badge_name"]
    assert layout.name[0] <= left and right <= layout.name[2]  # inside the printable width
    assert_inside_margins(result, width)
    assert_boxes_hold_all_ink(result)
    assert decode(result.image) == [CODE]


def test_a_name_longer_than_any_line_is_broken_inside_the_word_not_cut():
    from printers.badge import fit_text

    layout = layout_for(576)
    word = "Wolfeschlegelsteinhausenbergerdorffvortschaferswessenschafewarenwohlgepflegeundsorgfaltigkeit"
    placed = fit_text(word, layout.name, bold=True, sizes=layout.sizes["name"], never_cut=True)
    assert "".join(placed.lines) == word and len(placed.lines) == 3
    assert placed.font.size > layout.sizes["name"][-1][1]  # three lines hold it above the smallest size


def test_a_title_too_long_for_two_lines_ends_in_an_ellipsis():
    from printers.badge import fit_text

    layout = layout_for(576)
    title = "Deputy Assistant Director of Intergovernmental and Legislative Affairs and Special Projects " * 2
    placed = fit_text(title.strip(), layout.title, bold=False, sizes=layout.sizes["title"])
    first, second = placed.lines
    assert second.endswith("…")
    assert title.startswith(first + " " + second[:-1])
    assert placed.font.size == layout.sizes["title"][-1][1]  # the minimum size, not smaller


@pytest.mark.parametrize("seed", range(5))
def test_fast_mask_penalty_equals_qrcodes_own(seed):
    import random

    from qrcode import util

    from printers.badge import mask_penalty

    rng = random.Random(seed)
    for n in (21, 25, 29, 33):
        modules = [[rng.random() < 0.5 for _ in range(n)] for _ in range(n)]
        assert mask_penalty(modules) == util.lost_point(modules)


@pytest.mark.parametrize("code", [CODE, "B1" + "Z" * 26, "B1" + "0" * 26, "R1" + "7QK" * 8 + "AB"])
def test_qr_is_the_one_qrcode_itself_would_make(code):
    import qrcode

    from printers.badge import qr_matrix

    reference = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=1, border=4)
    reference.add_data(code)
    reference.make(fit=True)
    assert qr_matrix(code) == reference.get_matrix()
