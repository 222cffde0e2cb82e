"""Confirmation mail: a QR of the registration code as an inline PNG, sent after the commit, outside any transaction."""

from __future__ import annotations

import io
import os
import logging
import smtplib
import uuid
from collections.abc import Callable, Iterable, Iterator
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import qrcode
import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale, gettext as _

from .codes import format_for_humans
from .models import utcnow
from .settings import MailSettings, Settings

log = logging.getLogger(__name__)


class MailError(Exception):
    """A message could not be handed to the SMTP server or written to the outbox."""


def qr_png(text: str, *, box_size: int = 8) -> bytes:
    """PNG of a QR code for ``text`` (alphanumeric mode for Lanyard codes, medium error correction)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4)
    qr.add_data(qrcode.util.QRData(text.encode("ascii"), mode=qrcode.util.MODE_ALPHA_NUM))
    qr.make(fit=True)
    buffer = io.BytesIO()
    qr.make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def build_confirmation(issued, settings: Settings) -> EmailMessage:
    """Build the confirmation email for one registration: plain text, HTML and the inline QR."""
    registration = issued.registration
    rtype = settings.registration_types[registration.type_name]
    manage_url = f"{settings.base_url}/r/{issued.manage_code}"
    cid = make_msgid(domain="lanyard.invalid")
    language = registration.language if registration.language in settings.languages else "en"
    # A guest without an address of their own: the message goes to the host, and must say whose code it holds
    # (a host with three guests got four messages alike).
    to_host = registration.host is not None and registration.email_key is None
    with force_locale(language):
        context = dict(
            registration=registration,
            rtype=rtype,
            pass_label=rtype.label_for(language),
            event=settings.event,
            code=issued.code,
            code_for_humans=format_for_humans(issued.code),
            manage_url=manage_url,
            qr_cid=cid[1:-1],
            host=registration.host,
            to_host=to_host,
        )
        if to_host:
            subject = _("%(name)s's badge QR code for %(event)s", name=registration.first_name, event=settings.event.name)
        else:
            subject = _("Your badge QR code for %(event)s", event=settings.event.name)
        text = render_template("mail/confirmation.txt", **context)
        html = render_template("mail/confirmation.html", **context)
    message = _message(settings, to=registration.email, subject=subject, text=text, html=html)
    message.get_payload()[1].add_related(qr_png(issued.code), "image", "png", cid=cid, filename="badge-qr.png")
    return message


def build_reminder(reminder, settings: Settings) -> EmailMessage:
    """Build the "you are already registered" email: sent instead of telling the form that the email is taken."""
    registration = reminder.registration
    rtype = settings.registration_types.get(registration.type_name)
    language = registration.language if registration.language in settings.languages else "en"
    with force_locale(language):
        context = dict(
            registration=registration,
            pass_label=rtype.label_for(language) if rtype else registration.type_name,
            event=settings.event,
            manage_url=f"{settings.base_url}/r/{reminder.manage_code}",
        )
        subject = _("You are already registered for %(event)s", event=settings.event.name)
        text = render_template("mail/already_registered.txt", **context)
        html = render_template("mail/already_registered.html", **context)
    return _message(settings, to=registration.email, subject=subject, text=text, html=html)


def _message(settings: Settings, *, to: str, subject: str, text: str, html: str) -> EmailMessage:
    """A plain-text and HTML message with the headers every Lanyard email carries."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.mail.sender
    message["To"] = to
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=_sender_domain(settings))
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _sender_domain(settings: Settings) -> str:
    """The domain of the sender's address (a Message-ID should name a domain the sender controls)."""
    address = settings.mail.sender.rpartition("<")[2].rstrip(">").strip()
    domain = address.rpartition("@")[2]
    return domain if "@" in address and domain else "lanyard.invalid"


def deliver_reminders(reminders: Iterable, settings: Settings) -> list[tuple[object, str]]:
    """Send each "already registered" email with no transaction open; returns ``(reminder, error)`` for failures.

    Call it after the commit that stored the new links: the messages are built (that reads the
    database), the read transaction is ended, then they go out.
    """
    from .extensions import db

    messages = [(reminder, reminder.registration.id, build_reminder(reminder, settings)) for reminder in reminders]
    if not messages:
        return []
    db.session.commit()  # ends the read transaction; nothing is dirty, so nothing is written
    failures = []
    with Mailer(settings.mail) as mailer:
        for reminder, registration_id, message in messages:
            try:
                mailer.send(message)
            except MailError as exc:
                log.warning("reminder for registration %s not sent: %s", registration_id, exc)
                failures.append((reminder, str(exc)))
    return failures


class Mailer:
    """Delivers messages: one SMTP connection for a batch, or one ``.eml`` file per message."""

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, message: EmailMessage) -> None:
        """Send one message.

        :raise MailError: the server refused it, or the outbox could not be written.
        """
        if self.settings.outbox is not None:
            self._write_outbox(message)
            return
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            self._smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise MailError(f"SMTP {self.settings.host}:{self.settings.port}: {exc}") from exc

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.settings.host, self.settings.port, timeout=self.settings.timeout)
        if self.settings.starttls:
            smtp.starttls()
        if self.settings.username:
            smtp.login(self.settings.username, self.settings.password)
        return smtp

    def _write_outbox(self, message: EmailMessage) -> None:
        outbox: Path = self.settings.outbox
        try:
            outbox.mkdir(mode=0o700, parents=True, exist_ok=True)  # messages carry codes in clear
            name = f"{uuid.uuid4().hex}.eml"
            partial = outbox / f".{name}.part"
            with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
                fh.write(message.as_bytes())
            partial.rename(outbox / name)  # readers never see half a message
        except OSError as exc:
            raise MailError(f"outbox {outbox}: {exc}") from exc

    def close(self) -> None:
        """Close the SMTP connection if one is open."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._smtp = None


def deliver_confirmations(issued_list: Iterable, settings: Settings, *, batch: int = 200,
                          progress: Callable[[int], None] | None = None) -> list[tuple[object, str]]:
    """Send each confirmation with no database transaction open; returns ``(issued, error)`` for those that failed.

    Call it after the commit that made the codes. Messages are built a batch at a time (that reads the
    database), the transaction is ended, the batch goes to the mail server (which may be slow: nothing is
    held meanwhile, so kiosks keep checking people in), and then one short UPDATE records what was sent.
    """
    from .extensions import db
    from .models import Registration, utcnow

    failures = []
    with Mailer(settings.mail) as mailer:
        for chunk in _chunks(issued_list, batch):
            messages = [(issued, issued.registration.id, build_confirmation(issued, settings)) for issued in chunk]
            db.session.commit()  # ends the read transaction; nothing is dirty, so nothing is written
            sent = []
            for issued, registration_id, message in messages:
                try:
                    mailer.send(message)
                except MailError as exc:
                    log.warning("confirmation for registration %s not sent: %s", registration_id, exc)
                    failures.append((issued, str(exc)))
                    continue
                sent.append(registration_id)
            if sent:
                db.session.execute(sa.update(Registration).where(Registration.id.in_(sent))
                                   .values(confirmation_sent_at=utcnow()).execution_options(synchronize_session=False))
                db.session.commit()
            if progress is not None:
                progress(len(messages))
    return failures


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
