"""The desk's forms (Flask-WTF: CSRF on every one). The choices come from the services' closed lists."""

from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from ..forms import PageForm
from ..health import METHODS
from ..services import NAME_MAX, ORG_MAX
from .services import REPRINT_REASONS

TOO_LONG = _l("This is too long (at most %(max)d characters).")
METHOD_LABELS = {
    "vaccinated": _l("Vaccination proof seen"),
    "negative_test": _l("Negative test seen"),
    "onsite_test": _l("On-site test"),
    "exempt": _l("Exempt"),
}
#: What a person said of themselves, before staff saw any proof ("Stated: vaccinated — not verified yet").
STATED_LABELS = {"vaccinated": _l("vaccinated"), "negative_test": _l("negative test"),
                 "onsite_test": _l("on-site test"), "exempt": _l("exempt")}
VERDICT_LABELS = {"verified": _l("Verified"), "rejected": _l("Rejected")}
RESULT_LABELS = {"": _l("— (not an on-site test)"), "negative": _l("Negative"), "positive": _l("Positive")}
REPRINT_LABELS = {"lost": _l("Lost"), "misprint": _l("Misprint"), "name_change": _l("Name change"),
                  "damaged": _l("Damaged")}
JOB_STATE_LABELS = {"queued": _l("queued"), "sending": _l("printing"), "printed": _l("printed"), "held": _l("held"),
                    "failed": _l("failed"), "needs_decision": _l("unconfirmed"), "cancelled": _l("withdrawn")}
HEALTH_STATE_LABELS = {"attested": _l("attested (not checked yet)"), "verified": _l("verified"),
                       "rejected": _l("rejected")}
BADGE_REASON_LABELS = {**REPRINT_LABELS, "check-in": _l("Check-in"), "upgrade": _l("Upgrade to a full pass")}
PRINTER_STATE_LABELS = {"ready": _l("ready"), "unknown": _l("not heard from yet"), "offline": _l("offline"),
                        "paper_out": _l("out of paper"), "paper_near_end": _l("paper running out"),
                        "cover_open": _l("cover open"), "status_unknown": _l("no status answer"),
                        "print_failed": _l("failed to print"), "print_unconfirmed": _l("did not confirm")}
ROLE_LABELS = {"registrar": _l("Registrar"), "door": _l("Door staff"), "admin": _l("Admin")}


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def new_nonce() -> str:
    """A fresh nonce for a form that prints: submitting it twice prints once."""
    return secrets.token_urlsafe(18)


class NonceForm(PageForm):
    """A form whose submission must take effect once, however often it is sent."""

    nonce = HiddenField(validators=[DataRequired(), Length(min=8, max=64)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_submitted():
            self.nonce.data = new_nonce()


class PrinterMixin:
    """A printer choice; the view fills ``printer.choices`` from the configuration."""

    printer = SelectField(_l("Printer"), validators=[DataRequired()])


class DetailsForm(PageForm):
    """Correct what the badge says (the legal name stays as registered)."""

    badge_name = StringField(_l("Name on badge"), validators=[DataRequired(), Length(max=NAME_MAX, message=TOO_LONG)])
    title = StringField(_l("Title"), validators=[Optional(), Length(max=ORG_MAX, message=TOO_LONG)])
    organization = StringField(_l("City or organisation"), validators=[Optional(), Length(max=ORG_MAX, message=TOO_LONG)])
    save = SubmitField(_l("Save changes"))


class HealthForm(PrinterMixin, NonceForm):
    """What staff saw of a person's health proof; "verify and print" also checks them in here."""

    method = SelectField(_l("Proof"), choices=[SelectChoice(m, METHOD_LABELS[m]) for m in METHODS], validators=[DataRequired()])
    state = SelectField(_l("Verdict"), choices=_choices(VERDICT_LABELS), validators=[DataRequired()])
    test_taken_at = StringField(_l("Test taken at (event time)"), validators=[Optional(), Length(max=40)])
    result = SelectField(_l("On-site test result"), choices=_choices(RESULT_LABELS), validators=[Optional()])
    reason = StringField(_l("Reason (if rejected)"), validators=[Optional(), Length(max=200, message=TOO_LONG)])
    save = SubmitField(_l("Save verdict"))
    save_and_print = SubmitField(_l("Verify and print"))


class CheckInForm(PrinterMixin, NonceForm):
    """Check in and print at a chosen printer."""

    submit = SubmitField(_l("Check in and print"))


class ReprintForm(PrinterMixin, NonceForm):
    """Print a new badge; the current one is void at once."""

    reason = SelectField(_l("Why"), choices=[SelectChoice(r, REPRINT_LABELS[r]) for r in REPRINT_REASONS],
                         validators=[DataRequired()])
    submit = SubmitField(_l("Reprint badge"))


class UpgradeForm(PrinterMixin, PageForm):
    """Upgrade a guest to a full pass."""

    email = EmailField(_l("Their own email (optional)"), validators=[Optional(), Length(max=254, message=TOO_LONG)])
    submit = SubmitField(_l("Upgrade to a full pass"))


class ReasonForm(PageForm):
    """An action that needs a reason (cancel a registration, undo a check-in, cancel a print job)."""

    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=200, message=TOO_LONG)])
    submit = SubmitField(_l("Confirm"))


class ConfirmForm(PageForm):
    """An action with nothing to fill in (resend the confirmation, mark a job printed, enable a user)."""

    submit = SubmitField(_l("Confirm"))


class RetryForm(PageForm):
    """Send a print job again, on its printer or another one."""

    printer = SelectField(_l("Printer"), validators=[Optional()])
    submit = SubmitField(_l("Print again"))


class ResolveForm(PageForm):
    """Close a desk case, saying how."""

    resolution = StringField(_l("How it was solved"), validators=[DataRequired(), Length(max=500, message=TOO_LONG)])
    submit = SubmitField(_l("Resolve"))


class WalkUpForm(PrinterMixin, NonceForm):
    """Register, verify, check in and print someone who arrives unregistered."""

    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=NAME_MAX, message=TOO_LONG)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=NAME_MAX, message=TOO_LONG)])
    badge_name = StringField(_l("Name on badge (optional)"), validators=[Optional(), Length(max=NAME_MAX, message=TOO_LONG)])
    email = EmailField(_l("Email"), validators=[Optional(), Length(max=254, message=TOO_LONG)])
    title = StringField(_l("Title"), validators=[Optional(), Length(max=ORG_MAX, message=TOO_LONG)])
    organization = StringField(_l("City or organisation"), validators=[Optional(), Length(max=ORG_MAX, message=TOO_LONG)])
    registration_type = SelectField(_l("Pass"), validators=[DataRequired()])
    host_email = EmailField(_l("Host's email (guests)"), validators=[Optional(), Length(max=254, message=TOO_LONG)])
    method = SelectField(_l("Health proof seen"), choices=[SelectChoice("", _l("— not verified yet"))] +
                         [SelectChoice(m, METHOD_LABELS[m]) for m in METHODS], validators=[Optional()])
    test_taken_at = StringField(_l("Test taken at (event time)"), validators=[Optional(), Length(max=40)])
    result = SelectField(_l("On-site test result"), choices=_choices(RESULT_LABELS), validators=[Optional()])
    print_badge = BooleanField(_l("Check in and print the badge now"), default=True)
    submit = SubmitField(_l("Register"))


class StaffForm(PageForm):
    """Add a staff user."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254, message=TOO_LONG)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=100, message=TOO_LONG)])
    role = SelectField(_l("Role"), choices=_choices(ROLE_LABELS), validators=[DataRequired()])
    password = PasswordField(_l("Password (at least 12 characters)"), validators=[DataRequired(), Length(max=200)])
    token = BooleanField(_l("Also make an API token (door scanners, integrations)"))
    submit = SubmitField(_l("Add staff user"))


class PasswordForm(PageForm):
    """Set a staff user's password."""

    password = PasswordField(_l("New password (at least 12 characters)"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Set password"))


