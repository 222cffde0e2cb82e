"""Registration operations: register (with guests), look up by code, correct, rotate codes, cancel.

Services flush and never commit; the route or CLI command that calls them owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from .audit import Actor, record
from .codes import ParsedCode, hash_code, new_code, parse_code
from .errors import LanyardError
from .extensions import db
from .health import METHODS, STATES, TESTS, expiry_for
from .models import Event, HealthRecord, Registration, utcnow
from .settings import EventSettings, Settings
from .search import code_prefix, index_registration
from .text import clean_email, clean_name, clean_text, email_key, fold

NAME_MAX = 100
ORG_MAX = 150


@dataclass(frozen=True)
class PersonInput:
    """What is typed or imported about one person; validated by the service."""

    first_name: str
    last_name: str
    email: str
    type_name: str
    badge_name: str = ""
    title: str = ""
    organization: str = ""


@dataclass(frozen=True)
class HealthInput:
    """How a person says they will be cleared."""

    method: str
    state: str = "attested"
    test_taken_at: datetime | None = None


@dataclass(frozen=True)
class Issued:
    """A registration with its codes in clear: they exist only here, on their way into an email."""

    registration: Registration
    code: str
    manage_code: str


def ensure_event(event_settings: EventSettings) -> Event:
    """Create the configured event, or bring its row up to date with the configuration."""
    event = db.session.execute(db.select(Event).filter_by(slug=event_settings.slug)).scalar_one_or_none()
    if event is None:
        event = Event(slug=event_settings.slug)
        db.session.add(event)
    event.name = event_settings.name
    event.venue = event_settings.venue
    event.starts_on = event_settings.starts_on
    event.ends_on = event_settings.ends_on
    event.timezone = event_settings.timezone
    db.session.flush()
    return event


def init_database(settings: Settings) -> Event:
    """Create or upgrade the schema through the migrations, then the configured event (flushed, not committed).

    Needs an app context: Flask-Migrate reads the app's migrations folder and database.
    """
    from flask_migrate import upgrade

    upgrade()  # the app factory already created a new SQLite file (0600) and its folder
    return ensure_event(settings.event)


@dataclass(frozen=True)
class EventRef:
    """Just the event's identity: what the hot check-in path needs, cheap to keep between requests."""

    id: int
    slug: str


def current_event(settings: Settings) -> Event:
    """The configured event's row.

    :raise LanyardError: ``not_found`` when ``lanyard init-db`` has not created it.
    """
    event = db.session.execute(db.select(Event).filter_by(slug=settings.event.slug)).scalar_one_or_none()
    if event is None:
        raise LanyardError("not_found", f"event {settings.event.slug!r} is not set up: run `lanyard init-db`")
    return event


def current_event_ref(settings: Settings, cache: dict) -> EventRef:
    """The configured event's identity, looked up once and kept in ``cache`` (the app's): loading the event's
    row on every check-in or door scan cost ~12% of the CPU.

    :raise LanyardError: ``not_found`` when ``lanyard init-db`` has not created the event.
    """
    ref = cache.get(settings.event.slug)
    if ref is None:
        event = current_event(settings)
        ref = cache[settings.event.slug] = EventRef(event.id, event.slug)
    return ref


@dataclass(frozen=True)
class CleanPerson:
    first_name: str
    last_name: str
    badge_name: str
    title: str
    organization: str
    email: str
    type_name: str


def clean_person(person: PersonInput, settings: Settings, *, email_required: bool = True, prefix: str = "") -> CleanPerson:
    """Validate and normalise one person's fields.

    :raise LanyardError: ``invalid_field`` (naming the field; ``badge_name`` when no badge name is given and
        the full name is longer than ``NAME_MAX``) or ``unknown_type``: the first of the problems.
    """
    cleaned, problems = _clean_person(person, settings, email_required=email_required, prefix=prefix)
    if problems:
        raise problems[0]
    return cleaned


def _clean_person(person: PersonInput, settings: Settings, *, email_required: bool,
                  prefix: str) -> tuple[CleanPerson, list[LanyardError]]:
    """One person's fields cleaned, and every problem found (at most one per field), in the fields' order."""
    problems: list[LanyardError] = []

    def check(clean, *args, **kwargs) -> str:
        try:
            return clean(*args, **kwargs)
        except LanyardError as error:
            problems.append(error)
            return ""

    first = check(clean_name, person.first_name, field=prefix + "first_name", max_length=NAME_MAX)
    last = check(clean_name, person.last_name, field=prefix + "last_name", max_length=NAME_MAX)
    for name, value in (("first_name", first), ("last_name", last)):
        # The folded search key must fit its column too, and folding can lengthen a name (ß → ss, ﬃ → ffi).
        if len(fold(value)) > NAME_MAX:
            problems.append(LanyardError("invalid_field", f"{prefix}{name}: at most {NAME_MAX} characters",
                                         field=prefix + name, problem="too_long"))
    badge = check(clean_name, person.badge_name, field=prefix + "badge_name", max_length=NAME_MAX, required=False)
    if not badge and first and last:
        badge = f"{first} {last}"
        if len(badge) > NAME_MAX:  # the README promises a name is never cut: the person chooses the shorter form
            problems.append(LanyardError(
                "invalid_field", f"{prefix}badge_name: first and last name together are too long for the badge; "
                f"enter the name to print on the badge (at most {NAME_MAX} characters)",
                field=prefix + "badge_name", problem="badge_name_needed"))
    if person.type_name not in settings.registration_types:
        problems.append(LanyardError("unknown_type", f"{prefix}registration_type: unknown type {person.type_name!r}",
                                     field=prefix + "registration_type"))
    cleaned = CleanPerson(
        first_name=first,
        last_name=last,
        badge_name=badge,
        title=check(clean_name, person.title, field=prefix + "title", max_length=ORG_MAX, required=False),
        organization=check(clean_name, person.organization, field=prefix + "organization", max_length=ORG_MAX,
                           required=False),
        email=check(clean_email, person.email, field=prefix + "email", required=email_required),
        type_name=person.type_name,
    )
    return cleaned, problems


def check_registration(person: PersonInput, *, settings: Settings, health: HealthInput | None = None,
                       guests: Sequence[tuple[PersonInput, HealthInput | None]] = ()) -> list[LanyardError]:
    """Every problem of a registration form at once (the registrant's, each guest's, emails used twice), for a
    page that shows them all together; :func:`register_online` still refuses the first on its own.

    Whether an email is registered already is no problem here: the form never tells.
    """
    host, problems = _clean_person(person, settings, email_required=True, prefix="")
    if host.type_name in settings.registration_types and settings.registration_types[host.type_name].is_guest:
        problems.append(LanyardError("host_required", "A guest registers through a full registrant.",
                                     field="registration_type"))
    problems += _health_problems(health, prefix="")
    seen = {email_key(host.email)} if host.email else set()
    for index, (guest, guest_health) in enumerate(guests):
        prefix = f"guests-{index}-"
        cleaned, guest_problems = _clean_person(guest, settings, email_required=False, prefix=prefix)
        problems += guest_problems
        rtype = settings.registration_types.get(cleaned.type_name)
        if rtype is not None and not rtype.is_guest:
            problems.append(LanyardError("invalid_field", f"{prefix}registration_type: must be a guest type",
                                         field=prefix + "registration_type"))
        problems += _health_problems(guest_health, prefix=prefix)
        if cleaned.email:
            if email_key(cleaned.email) in seen:
                problems.append(LanyardError("duplicate_email", f"{prefix}email: used twice in this registration",
                                             field=prefix + "email"))
            seen.add(email_key(cleaned.email))
    return problems


def _health_problems(health: HealthInput | None, *, prefix: str) -> list[LanyardError]:
    try:
        clean_health(health, prefix=prefix)
    except LanyardError as error:
        return [error]
    return []


def clean_health(health: HealthInput | None, *, prefix: str = "") -> HealthInput | None:
    """Check a health statement's method, state and test time.

    :raise LanyardError: ``invalid_field`` naming the field.
    """
    if health is None:
        return None
    if health.method not in METHODS:
        raise LanyardError("invalid_field", f"{prefix}health_method: unknown method {health.method!r}",
                           field=prefix + "health_method")
    if health.state not in STATES:
        raise LanyardError("invalid_field", f"{prefix}health_state: unknown state {health.state!r}",
                           field=prefix + "health_state")
    if health.test_taken_at is not None:
        if health.test_taken_at.tzinfo is None:
            raise LanyardError("invalid_field", f"{prefix}test_taken_at: needs a time zone",
                               field=prefix + "test_taken_at")
        if health.test_taken_at > utcnow():
            raise LanyardError("invalid_field", f"{prefix}test_taken_at: in the future",
                               field=prefix + "test_taken_at")
    elif health.state == "verified" and health.method in TESTS:
        # A verified test clears only for its validity window after it was taken: without the time
        # there is nothing to count from.
        raise LanyardError("invalid_field", f"{prefix}test_taken_at: required for a verified {health.method}",
                           field=prefix + "test_taken_at", problem="required")
    return health


def email_taken(event: Event, email: str) -> bool:
    """Whether someone at ``event`` already registered with ``email`` (any letter case)."""
    found = db.session.execute(
        db.select(Registration.id).filter_by(event_id=event.id, email_key=email_key(email)).limit(1)
    ).first()
    return found is not None


def new_registration_values(person: CleanPerson, *, contact_email: str, language: str,
                            source: str) -> tuple[dict, str, str]:
    """The columns of a new, confirmed registration and its fresh codes in clear: the one recipe of every path
    that creates registrations (the form, the desk and the import; the import inserts the values in batches).

    The event and host are the caller's: the form links a guest to a host not yet flushed, the import by id.
    """
    code, manage_code = new_code("registration"), new_code("manage")
    values = dict(
        type_name=person.type_name,
        first_name=person.first_name,
        last_name=person.last_name,
        badge_name=person.badge_name,
        title=person.title,
        organization=person.organization,
        # A guest without an email of their own gets their mail at the host's address.
        email=person.email or contact_email,
        email_key=email_key(person.email) if person.email else None,
        first_name_key=fold(person.first_name),
        last_name_key=fold(person.last_name),
        status="confirmed",
        code_hash=hash_code(code),
        code_prefix=code_prefix(code),
        manage_hash=hash_code(manage_code),
        language=language,
        source=source,
    )
    return values, code, manage_code


def _add_registration(event: Event, person: CleanPerson, *, contact_email: str, host: Registration | None,
                      language: str, source: str) -> Issued:
    values, code, manage_code = new_registration_values(person, contact_email=contact_email, language=language,
                                                        source=source)
    registration = Registration(event=event, host=host, **values)
    db.session.add(registration)
    return Issued(registration, code, manage_code)


def _add_health(registration: Registration, health: HealthInput | None, settings: Settings) -> None:
    if health is None:
        return
    record_ = HealthRecord(
        registration=registration, method=health.method, state=health.state, test_taken_at=health.test_taken_at
    )
    record_.expires_at = expiry_for(record_, settings.health)
    db.session.add(record_)


def register(
    event: Event,
    person: PersonInput,
    *,
    settings: Settings,
    actor: Actor,
    health: HealthInput | None = None,
    guests: Sequence[tuple[PersonInput, HealthInput | None]] = (),
    language: str = "en",
    source: str = "online",
) -> list[Issued]:
    """Register a full registrant and their guests; returns each with its fresh codes (host first).

    :raise LanyardError: ``invalid_field``, ``unknown_type``, ``host_required``, ``duplicate_email``.
    """
    host = clean_person(person, settings)
    host_type = settings.registration_types[host.type_name]
    if host_type.is_guest:
        raise LanyardError("host_required", "A guest registers through a full registrant.", field="registration_type")
    if len(guests) > settings.max_guests:
        raise LanyardError("invalid_field", f"guests: at most {settings.max_guests}", field="guests")
    health = clean_health(health)
    cleaned_guests = []
    seen = {email_key(host.email)}
    for index, (guest, guest_health) in enumerate(guests):
        prefix = f"guests-{index}-"
        cleaned = clean_person(guest, settings, email_required=False, prefix=prefix)
        if not settings.registration_types[cleaned.type_name].is_guest:
            raise LanyardError("invalid_field", f"{prefix}registration_type: must be a guest type",
                               field=prefix + "registration_type")
        if cleaned.email:
            if email_key(cleaned.email) in seen:
                raise LanyardError("duplicate_email", f"{prefix}email: used twice in this registration",
                                   field=prefix + "email")
            seen.add(email_key(cleaned.email))
        cleaned_guests.append((cleaned, clean_health(guest_health, prefix=prefix), prefix))
    if email_taken(event, host.email):
        raise LanyardError("duplicate_email", "email: already registered for this event", field="email")
    for cleaned, _health, prefix in cleaned_guests:
        if cleaned.email and email_taken(event, cleaned.email):
            raise LanyardError("duplicate_email", f"{prefix}email: already registered for this event",
                               field=prefix + "email")

    main = _add_registration(event, host, contact_email=host.email, host=None, language=language, source=source)
    _add_health(main.registration, health, settings)
    issued = [main]
    for cleaned, guest_health, _prefix in cleaned_guests:
        guest = _add_registration(event, cleaned, contact_email=host.email, host=main.registration,
                                  language=language, source=source)
        _add_health(guest.registration, guest_health, settings)
        issued.append(guest)
    db.session.flush()
    for item in issued:
        index_registration(item.registration)
        record(actor, "registration.create", item.registration, type=item.registration.type_name, source=source)
    return issued


@dataclass(frozen=True)
class Reminder:
    """An existing registration and its fresh private link, for the "you are already registered" message."""

    registration: Registration
    manage_code: str


@dataclass(frozen=True)
class OnlineOutcome:
    """What the public form did: new registrations, and reminders to people already registered."""

    issued: list[Issued]
    reminders: list[Reminder]
    people: list[CleanPerson]  # everyone the form named, as cleaned: the same answer whichever way it went


def registered_with(event: Event, email: str) -> Registration | None:
    """The registration at ``event`` whose own email is ``email`` (any letter case), if any."""
    return db.session.execute(
        db.select(Registration).filter_by(event_id=event.id, email_key=email_key(email)).limit(1)
    ).scalar_one_or_none()


def register_online(
    event: Event,
    person: PersonInput,
    *,
    settings: Settings,
    actor: Actor,
    health: HealthInput | None = None,
    guests: Sequence[tuple[PersonInput, HealthInput | None]] = (),
    language: str = "en",
) -> OnlineOutcome:
    """Register from the public form without telling anyone whether an email is already registered.

    A person whose email is registered already is not registered again: their registration gets a new
    private link (the old one stops working; the QR code is kept) to be mailed to them. When that is the
    full registrant, nobody on the form is registered (guests are added through the registrant's own
    link or at the desk, never by whoever knows their email).

    :raise LanyardError: ``invalid_field``, ``unknown_type``, ``host_required``, ``duplicate_email`` (the same
        email twice on one form: the person typing sees only what they typed).
    """
    host = clean_person(person, settings)
    cleaned = [clean_person(g, settings, email_required=False, prefix=f"guests-{i}-") for i, (g, _h) in enumerate(guests)]
    seen = {email_key(host.email)}
    for index, clean in enumerate(cleaned):
        if clean.email:
            if email_key(clean.email) in seen:
                raise LanyardError("duplicate_email", f"guests-{index}-email: used twice in this registration",
                                   field=f"guests-{index}-email")
            seen.add(email_key(clean.email))
    existing = registered_with(event, host.email)
    if existing is not None:
        return OnlineOutcome(issued=[], reminders=[reissue_manage_link(existing, actor=actor)], people=[host, *cleaned])
    reminders, new_guests = [], []
    for guest, clean in zip(guests, cleaned):
        found = registered_with(event, clean.email) if clean.email else None
        if found is None:
            new_guests.append(guest)
        elif all(r.registration is not found for r in reminders):
            reminders.append(reissue_manage_link(found, actor=actor))
    issued = register(event, person, settings=settings, actor=actor, health=health, guests=new_guests,
                      language=language, source="online")
    return OnlineOutcome(issued=issued, reminders=reminders, people=[host, *cleaned])


def reissue_manage_link(registration: Registration, *, actor: Actor) -> Reminder:
    """Give a registration a new private manage link; the old link stops working, the QR code does not."""
    manage_code = new_code("manage")
    registration.manage_hash = parse_code(manage_code).digest
    db.session.flush()
    record(actor, "registration.manage_link", registration)
    return Reminder(registration, manage_code)


def manage_link_expired(event: Event, now: datetime) -> bool:
    """Whether private manage links of ``event`` stopped working: the day after it ends, in its time zone."""
    closes = datetime.combine(event.ends_on + timedelta(days=1), time(), tzinfo=ZoneInfo(event.timezone))
    return now >= closes


def register_guest(event: Event, host: Registration, guest: PersonInput, *, settings: Settings, actor: Actor,
                   health: HealthInput | None = None, language: str = "en", source: str = "desk") -> Issued:
    """Register one more guest of an existing full registrant (the desk's walk-up guest).

    :raise LanyardError: ``invalid_field``, ``unknown_type``, ``host_invalid``, ``duplicate_email``.
    """
    if (host.event_id != event.id or host.is_cancelled or host.host_id is not None
            or settings.registration_types[host.type_name].is_guest):
        raise LanyardError("host_invalid", "host: must be a confirmed full registrant of this event", field="host_id")
    cleaned = clean_person(guest, settings, email_required=False)
    if not settings.registration_types[cleaned.type_name].is_guest:
        raise LanyardError("invalid_field", "registration_type: must be a guest type", field="registration_type")
    health = clean_health(health)
    if cleaned.email and email_taken(event, cleaned.email):
        raise LanyardError("duplicate_email", "email: already registered for this event", field="email")
    issued = _add_registration(event, cleaned, contact_email=host.email, host=host, language=language,
                               source=source)
    _add_health(issued.registration, health, settings)
    db.session.flush()
    index_registration(issued.registration)
    record(actor, "registration.create", issued.registration, type=cleaned.type_name, source=source, host_id=host.id)
    return issued


def registration_with_code(parsed: ParsedCode) -> Registration | None:
    """The registration whose current registration or manage code is ``parsed``, if anyone's is.

    The one lookup by code of the form and the desk (the kiosk's hot path reads the same column in one
    statement with what it shows).
    """
    column = {"registration": Registration.code_hash, "manage": Registration.manage_hash}.get(parsed.kind)
    if column is None:  # a badge, kiosk or staff code is nobody's registration code
        return None
    return db.session.execute(db.select(Registration).where(column == parsed.digest)).scalar_one_or_none()


def registration_for_code(event: Event, raw: object, *, kind: str = "registration") -> Registration:
    """Find the registration a scanned or typed code belongs to.

    :raise LanyardError: ``code_malformed``, ``wrong_code_kind``, ``code_unknown``, ``wrong_event``.
    """
    parsed = parse_code(raw)
    if parsed.kind != kind:
        raise LanyardError("wrong_code_kind", f"expected a {kind} code, got a {parsed.kind} code")
    found = registration_with_code(parsed)
    if found is None:
        raise LanyardError("code_unknown")
    if found.event_id != event.id:
        raise LanyardError("wrong_event")
    return found


def change_badge_name(registration: Registration, badge_name: str, *, actor: Actor) -> Registration:
    """Correct the name printed on the badge.

    :raise LanyardError: ``invalid_field`` or ``registration_cancelled``.
    """
    if registration.is_cancelled:
        raise LanyardError("registration_cancelled")
    new = clean_name(badge_name, field="badge_name", max_length=NAME_MAX)
    old = registration.badge_name
    if new != old:
        registration.badge_name = new
        index_registration(registration)
        record(actor, "registration.badge_name", registration, old=old, new=new)
    return registration


def rotate_codes(registration: Registration, *, actor: Actor) -> Issued:
    """Issue new registration and management codes; the old ones stop working at once.

    :raise LanyardError: ``registration_cancelled``.
    """
    if registration.is_cancelled:
        raise LanyardError("registration_cancelled")
    code, manage_code = new_code("registration"), new_code("manage")
    registration.code_hash = parse_code(code).digest
    registration.code_prefix = code_prefix(code)
    registration.manage_hash = parse_code(manage_code).digest
    registration.code_issued_at = utcnow()
    db.session.flush()
    record(actor, "registration.rotate_codes", registration)
    return Issued(registration, code, manage_code)


def cancel_registration(registration: Registration, *, actor: Actor, reason: str) -> Registration:
    """Cancel a registration; its valid badges are voided so doors refuse them.

    :raise LanyardError: ``reason_required``.
    """
    from .printing.models import Badge

    reason = clean_text(reason, field="reason", max_length=200, required=False)
    if not reason:
        raise LanyardError("reason_required")
    if registration.is_cancelled:
        return registration
    registration.status = "cancelled"
    for badge in db.session.execute(db.select(Badge).filter_by(registration_id=registration.id, status="valid")).scalars():
        badge.status, badge.void_reason, badge.voided_at = "void", "registration cancelled", utcnow()
    db.session.flush()
    record(actor, "registration.cancel", registration, reason=reason)
    return registration
