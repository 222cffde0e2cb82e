"""DLE EOT answers: what each bit pattern means, and what is not an answer at all."""

from __future__ import annotations

import pytest

from printers import CoverOpen, PaperOut, PrinterOffline, PrinterStatus, StatusUnknown, parse_status
from printers.status import encode_status, raise_for_status

OK = PrinterStatus(online=True, cover_open=False, paper_out=False, paper_near_end=False)

#: (DLE EOT 1, DLE EOT 2, DLE EOT 4) -> status
ANSWERS = [
    pytest.param(b"\x12\x12\x12", OK, id="all-clear"),
    pytest.param(b"\x16\x12\x12", OK, id="drawer-pin-high-is-not-a-fault"),
    pytest.param(b"\x1a\x12\x12", PrinterStatus(False, False, False, False), id="offline"),
    pytest.param(b"\x1a\x16\x12", PrinterStatus(False, True, False, False), id="cover-open"),
    pytest.param(b"\x1a\x32\x72", PrinterStatus(False, False, True, True), id="paper-end-stop"),
    pytest.param(b"\x12\x12\x72", PrinterStatus(True, False, True, True), id="paper-end-sensor-only"),
    pytest.param(b"\x12\x12\x1e", PrinterStatus(True, False, False, True), id="near-end"),
    pytest.param(b"\x12\x52\x12", PrinterStatus(False, False, False, False), id="error-occurred"),
    pytest.param(b"\x12\x1a\x12", OK, id="paper-fed-by-button"),
]


@pytest.mark.parametrize("answer, status", ANSWERS)
def test_status_bytes_are_parsed(answer, status):
    assert parse_status(answer) == status


@pytest.mark.parametrize("answer", [
    pytest.param(b"", id="no-answer"),
    pytest.param(b"\x12", id="one-of-three"),
    pytest.param(b"\x12\x12", id="two-of-three"),
    pytest.param(b"\x12\x12\x12\x12", id="too-many"),
    pytest.param(b"\x00\x00\x00", id="zeros"),
    pytest.param(b"\xff\x12\x12", id="bit-7-set"),
    pytest.param(b"\x13\x12\x12", id="bit-0-set"),
    pytest.param(b"\x02\x12\x12", id="bit-4-clear"),
    pytest.param(b"OK\n", id="text"),
])
def test_anything_else_is_status_unknown_never_ok(answer):
    with pytest.raises(StatusUnknown) as caught:
        parse_status(answer)
    assert caught.value.code == "status_unknown"


@pytest.mark.parametrize("state, error, code", [
    (dict(cover_open=True), CoverOpen, "cover_open"),
    (dict(paper_out=True), PaperOut, "paper_out"),
    (dict(offline=True), PrinterOffline, "printer_offline"),
    (dict(error=True), PrinterOffline, "printer_offline"),
    (dict(cover_open=True, paper_out=True), CoverOpen, "cover_open"),
])
@pytest.mark.parametrize("sent", [False, True])
def test_a_printer_that_is_not_ready_raises_the_cause(state, error, code, sent):
    status = parse_status(bytes(encode_status(**state)[n] for n in (1, 2, 4)))
    assert not status.ready
    with pytest.raises(error) as caught:
        raise_for_status(status, sent=sent)
    assert (caught.value.code, caught.value.sent) == (code, sent)


@pytest.mark.parametrize("state", [{}, dict(near_end=True)])
def test_a_ready_printer_raises_nothing(state):
    status = parse_status(bytes(encode_status(**state)[n] for n in (1, 2, 4)))
    assert status.ready and status.paper_near_end == bool(state)
    raise_for_status(status, sent=False)


def test_error_codes_are_the_documented_closed_list():
    import printers

    expected = {"PrinterOffline": "printer_offline", "PaperOut": "paper_out", "CoverOpen": "cover_open",
                "StatusUnknown": "status_unknown", "PrintNotConfirmed": "print_unconfirmed",
                "PrinterConfigError": "printer_config"}
    for name, code in expected.items():
        error = getattr(printers, name)("boom")
        assert isinstance(error, printers.PrinterError)
        assert (error.code, str(error)) == (code, "boom")
        assert error.sent is (name == "PrintNotConfirmed")  # unconfirmed means bytes went out
    assert set(printers.CODES) == set(expected.values())
