"""Forms of the public registration pages (Flask-WTF: CSRF on every one)."""

from flask_babel import lazy_gettext as _l
from flask import request
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice
from wtforms import EmailField, FieldList, Form, FormField, RadioField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length, Optional

from .services import NAME_MAX, ORG_MAX

TOO_LONG = _l("This is too long (at most %(max)d characters).")
HEALTH_CHOICES = [
    SelectChoice("vaccinated", _l("I am vaccinated and will show proof")),
    SelectChoice("negative_test", _l("I will bring a negative test (taken within 72 hours)")),
    SelectChoice("onsite_test", _l("I will take a test on site")),
]
#: The same answers about a guest, in the third person (the question is "How will they be cleared?").
GUEST_HEALTH_CHOICES = [
    SelectChoice("vaccinated", _l("They are vaccinated and will show proof")),
    SelectChoice("negative_test", _l("They will bring a negative test (taken within 72 hours)")),
    SelectChoice("onsite_test", _l("They will take a test on site")),
]


class PageForm(FlaskForm):
    """The base of every form on Lanyard's pages: its input is the posted form, never a JSON body.

    Flask-WTF would also take a JSON body as form input, and JSON values need not be text (a number in
    a text field made the length check raise, a 500). Pages post forms; a JSON body is no input at all.
    """

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            automatic = formdata is not None and not hasattr(formdata, "getlist")  # Flask-WTF's "from the request"
            if automatic and request.is_json and not request.form and not request.files:
                return None
            return super().wrap_formdata(form, formdata)


class SubForm(Form):
    """The base of forms nested in a page form (``FormField``): no CSRF token of their own (the page form has
    it), but Flask-WTF's translations, which a plain WTForms ``Form`` lacks (its messages stayed English)."""

    class Meta(FlaskForm.Meta):
        csrf = False


class GuestForm(SubForm):
    """One guest inside the registration form."""

    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=NAME_MAX, message=TOO_LONG)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=NAME_MAX, message=TOO_LONG)])
    badge_name = StringField(_l("Name on badge (optional)"), validators=[Optional(), Length(max=NAME_MAX, message=TOO_LONG)])
    email = EmailField(_l("Email (optional)"), validators=[Optional(), Length(max=254, message=TOO_LONG)])
    health_method = RadioField(_l("How will they be cleared?"), choices=GUEST_HEALTH_CHOICES,
                               validators=[DataRequired()])


class RegistrationForm(PageForm):
    """A full registrant and zero or more guests."""

    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=NAME_MAX, message=TOO_LONG)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=NAME_MAX, message=TOO_LONG)])
    badge_name = StringField(_l("Name on badge (optional)"), validators=[Optional(), Length(max=NAME_MAX, message=TOO_LONG)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254, message=TOO_LONG), Email(check_deliverability=False)])
    title = StringField(_l("Title"), validators=[Optional(), Length(max=ORG_MAX, message=TOO_LONG)])
    organization = StringField(_l("City or organisation"), validators=[Optional(), Length(max=ORG_MAX, message=TOO_LONG)])
    health_method = RadioField(_l("How will you be cleared?"), choices=HEALTH_CHOICES, validators=[DataRequired()])
    guests = FieldList(FormField(GuestForm), min_entries=0, max_entries=10)
    add_guest = SubmitField(_l("Add a guest"))
    submit = SubmitField(_l("Register"))


class BadgeNameForm(PageForm):
    """Correct the name printed on one's badge."""

    badge_name = StringField(_l("Name on badge"), validators=[DataRequired(), Length(max=NAME_MAX, message=TOO_LONG)])
    save = SubmitField(_l("Save"))


class ResendForm(PageForm):
    """Email the confirmation again, with a new code."""

    resend = SubmitField(_l("Email me a new code"))
