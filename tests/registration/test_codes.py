"""Registration codes: random, compact, canonicalised, length-capped."""

import pytest

from registration.codes import ALPHABET, format_for_humans, hash_code, new_code, parse_code
from registration.errors import LanyardError


@pytest.mark.parametrize("kind", ["registration", "badge", "manage", "kiosk", "enrol", "staff_token"])
def test_new_code_is_prefix_plus_26_crockford_characters(kind):
    code = new_code(kind)
    assert len(code) == 28
    assert set(code[2:]) <= set(ALPHABET)
    assert parse_code(code).kind == kind


def test_codes_do_not_repeat():
    assert len({new_code("registration") for _ in range(10_000)}) == 10_000


def test_code_uses_only_qr_alphanumeric_characters():
    qr_alphanumeric = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    assert set(new_code("registration")) <= qr_alphanumeric


def test_parse_accepts_lower_case_hyphens_and_confusable_letters():
    code = new_code("registration")
    typed = format_for_humans(code).lower().replace("0", "o").replace("1", "l")
    assert parse_code(typed).text == code


def test_only_the_hash_is_kept_and_it_is_stable():
    code = new_code("registration")
    assert parse_code(code).digest == hash_code(code)
    assert code not in parse_code(code).digest


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        "R1",
        "R1" + "0" * 25,  # one short
        "R1" + "0" * 27,  # one long
        "X1" + "0" * 26,  # unknown kind
        "R2" + "0" * 26,  # unknown version
        "R1" + "U" * 26,  # U is not Crockford
        "R1" + "0" * 25 + "\x00",
        "R1" + "0" * 25 + "é",
        "R1" + "Ж" * 26,
        "R1" + "0" * 10 + "\u202e" + "0" * 16,
        "R1" + "0" * 5000,
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        None,
        12345,
        ["R1" + "0" * 26],
    ],
    ids=lambda raw: repr(raw)[:30],
)
def test_malformed_input_is_refused_with_one_code(raw):
    with pytest.raises(LanyardError) as excinfo:
        parse_code(raw)
    assert excinfo.value.code == "code_malformed"
