"""Every email Lanyard sends carries Date and Message-ID, read back from the outbox's .eml files."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
from flask import g

from tests.helpers import read_outbox

MESSAGE_ID = re.compile(r"^<[^<>@\s]+@lanyard\.test>$")  # the sender's domain (config: registration@lanyard.test)


def _form(client, email):
    g.pop("csrf_token", None)  # a fresh browser: Flask-WTF caches the token in the test's shared g
    html = client.get("/register").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    return {"csrf_token": token, "first_name": "Grace", "last_name": "Hopper", "email": email,
            "health_method": "vaccinated", "submit": "Register",
            "guests-0-first_name": "Zoë", "guests-0-last_name": "Hopper", "guests-0-health_method": "vaccinated"}


def _confirmations(app, tmp_path):
    client = app.test_client()
    assert client.post("/register", data=_form(client, "grace@example.org")).status_code == 303


def _reminder(app, tmp_path):
    _confirmations(app, tmp_path)
    for path in (tmp_path / "outbox").glob("*.eml"):
        path.unlink()
    client = app.test_client()
    assert client.post("/register", data=_form(client, "GRACE@example.org")).status_code == 303


def _resend(app, tmp_path):
    from registration.models import Registration
    from registration.extensions import db
    import sqlalchemy as sa

    _reminder(app, tmp_path)
    link = re.search(r"http://lanyard\.test(/r/\S+)", read_outbox(tmp_path / "outbox")[0]
                     .get_body(("plain",)).get_content()).group(1)
    for path in (tmp_path / "outbox").glob("*.eml"):
        path.unlink()
    g.pop("csrf_token", None)
    client = app.test_client()
    assert client.get(link).status_code == 303
    html = client.get("/manage").get_data(as_text=True)
    token = re.search(r'name="resend-csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    assert client.post("/manage/resend", data={"resend-csrf_token": token, "resend-resend": "x"}).status_code == 200  # the page is closed
    assert db.session.execute(sa.select(sa.func.count(Registration.id))).scalar() == 2


KINDS = [("confirmations", _confirmations, 2, ("Your badge QR code", "Zoë's badge QR code")),
         ("already registered", _reminder, 1, "You are already registered"),
         ("resend", _resend, 1, "Your badge QR code")]


@pytest.mark.parametrize("label, send, expected, subject", KINDS, ids=[k[0] for k in KINDS])
def test_every_message_has_a_date_and_a_unique_message_id(app, tmp_path, label, send, expected, subject):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    send(app, tmp_path)
    after = datetime.now(timezone.utc)
    messages = read_outbox(tmp_path / "outbox")
    assert len(messages) == expected
    ids = set()
    for message in messages:
        assert message["Subject"].startswith(subject)
        assert len(message.get_all("Date")) == 1 and len(message.get_all("Message-ID")) == 1
        sent = parsedate_to_datetime(message["Date"])
        assert sent.tzinfo is not None
        assert before - timedelta(seconds=1) <= sent <= after + timedelta(seconds=1)
        assert MESSAGE_ID.match(message["Message-ID"]), message["Message-ID"]
        ids.add(message["Message-ID"])
    assert len(ids) == expected
