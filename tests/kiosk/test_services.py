"""Kiosk devices: add, enrol once, disable, enable, rotate; every change audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from kiosk.services import (add_kiosk, disable_kiosk, enable_kiosk, enrol_kiosk, rotate_kiosk_token,
                            touch_kiosk)
from registration.audit import Actor
from registration.codes import hash_code, new_code
from registration.errors import LanyardError
from registration.extensions import db
from registration.models import AuditEvent, utcnow

SYSTEM = Actor.system("test")


def audit_actions() -> list[str]:
    return db.session.execute(sa.select(AuditEvent.action).order_by(AuditEvent.id)).scalars().all()


def test_add_stores_only_hashes_and_audits(event, settings):
    kiosk, token, enrol_code = add_kiosk(event, name="kiosk-a", printer_name="kiosk-1", settings=settings,
                                         actor=SYSTEM, location="Lobby A", language="es")
    db.session.commit()
    assert token.startswith("K1") and enrol_code.startswith("E1")
    assert kiosk.token_hash == hash_code(token) and kiosk.enrol_hash == hash_code(enrol_code)
    assert (kiosk.location, kiosk.language, kiosk.enabled, kiosk.generation) == ("Lobby A", "es", True, 1)
    assert audit_actions() == ["kiosk.add"]


@pytest.mark.parametrize(("fields", "code"), [
    ({"name": "kiosk-a"}, "kiosk_exists"),
    ({"printer_name": "nowhere"}, "printer_unknown"),
    ({"language": "fr"}, "invalid_field"),
    ({"name": ""}, "invalid_field"),
    ({"name": "x" * 65}, "invalid_field"),
    ({"name": "bad\x00name"}, "invalid_field"),
])
def test_add_refuses(fields, code, make_kiosk, event, settings):
    make_kiosk("kiosk-a")
    options = {"name": "kiosk-b", "printer_name": "kiosk-1", "language": "en", **fields}
    with pytest.raises(LanyardError) as refused:
        add_kiosk(event, settings=settings, actor=SYSTEM, **options)
    assert refused.value.code == code


def test_enrolment_works_once(make_kiosk):
    kiosk, _token, enrol_code = make_kiosk()
    assert enrol_kiosk(enrol_code).id == kiosk.id
    db.session.commit()
    with pytest.raises(LanyardError) as again:
        enrol_kiosk(enrol_code)
    assert again.value.code == "enrolment_invalid"
    assert "kiosk.enrol" in audit_actions()


@pytest.mark.parametrize("code", ["", "nonsense", None, 42, "E1" + "0" * 26, "x" * 10_000])
def test_enrolment_refuses_unknown_codes(make_kiosk, code):
    make_kiosk()
    with pytest.raises(LanyardError) as refused:
        enrol_kiosk(code)
    assert refused.value.code == "enrolment_invalid"


def test_enrolment_refuses_a_kiosk_token_or_another_kind_of_code(make_kiosk):
    _kiosk, token, _enrol = make_kiosk()
    for code in (token, new_code("registration")):
        with pytest.raises(LanyardError) as refused:
            enrol_kiosk(code)
        assert refused.value.code == "enrolment_invalid"


def test_enrolment_expires_after_a_day(make_kiosk):
    _kiosk, _token, enrol_code = make_kiosk()
    with pytest.raises(LanyardError) as refused:
        enrol_kiosk(enrol_code, now=utcnow() + timedelta(hours=24, seconds=1))
    assert refused.value.code == "enrolment_invalid"
    assert enrol_kiosk(enrol_code, now=utcnow() + timedelta(hours=23)) is not None


def test_rotation_replaces_token_enrolment_and_generation(make_kiosk):
    kiosk, token, enrol_code = make_kiosk()
    new_token, new_enrol = rotate_kiosk_token(kiosk, actor=SYSTEM)
    db.session.commit()
    assert kiosk.generation == 2
    assert kiosk.token_hash == hash_code(new_token) != hash_code(token)
    with pytest.raises(LanyardError):
        enrol_kiosk(enrol_code)
    assert enrol_kiosk(new_enrol).id == kiosk.id


def test_disable_and_enable_are_audited_once_each(make_kiosk):
    kiosk = make_kiosk()[0]
    disable_kiosk(kiosk, actor=SYSTEM)
    disable_kiosk(kiosk, actor=SYSTEM)
    assert not kiosk.enabled
    enable_kiosk(kiosk, actor=SYSTEM)
    db.session.commit()
    assert kiosk.enabled and kiosk.generation == 1
    assert audit_actions()[-2:] == ["kiosk.disable", "kiosk.enable"]


def test_last_seen_is_written_at_most_once_a_minute(make_kiosk):
    kiosk = make_kiosk()[0]
    now = utcnow()
    assert touch_kiosk(kiosk, now=now) is True
    db.session.commit()
    assert touch_kiosk(kiosk, now=now + timedelta(seconds=30)) is False
    assert touch_kiosk(kiosk, now=now + timedelta(seconds=61)) is True
