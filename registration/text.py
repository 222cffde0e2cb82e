"""Validation and folding of people's names and other free text, in every script."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from .errors import LanyardError

# Zero-width joiners are part of correct spelling in several scripts (and in Persian names);
# every other format character (bidi overrides, zero-width spaces, BOM) is refused.
_ALLOWED_FORMAT = {"\u200c", "\u200d"}
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "So", "Sk"}
# Spreadsheet applications run a cell starting with these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def clean_text(value: object, *, field: str, max_length: int, required: bool = True) -> str:
    """NFC-normalise and check one line of text.

    :raise LanyardError: ``invalid_field`` naming ``field`` (empty, too long, control,
        bidi-override or zero-width characters, emoji or symbols).
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise LanyardError("invalid_field", f"{field}: expected text", field=field)
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        if required:
            raise LanyardError("invalid_field", f"{field}: required", field=field, problem="required")
        return ""
    if len(text) > max_length:
        raise LanyardError(
            "invalid_field", f"{field}: at most {max_length} characters", field=field, problem="too_long"
        )
    if text.isascii() and text.isprintable():
        # The common case: nothing below can refuse printable ASCII; runs of spaces become one.
        return " ".join(text.split()) if "  " in text else text
    for char in text:
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES and char not in _ALLOWED_FORMAT:
            kind = "emoji_or_symbol" if category in ("So", "Sk") else "control_character"
            raise LanyardError(
                "invalid_field",
                f"{field}: character U+{ord(char):04X} is not allowed",
                field=field,
                problem=kind,
            )
        if category.startswith("Z") and char != " ":
            raise LanyardError(
                "invalid_field", f"{field}: unusual space U+{ord(char):04X}", field=field, problem="control_character"
            )
    if "  " in text:
        text = " ".join(text.split())
    return text


def clean_name(value: object, *, field: str, max_length: int, required: bool = True) -> str:
    """Check a name, title or organisation: :func:`clean_text`, and no leading formula character.

    One rule for the online form, the desk and the import: a spreadsheet opened by an organiser
    would run a cell that starts with ``= + - @`` (or a tab or carriage return) as a formula.

    :raise LanyardError: ``invalid_field`` naming ``field`` (``problem`` ``formula`` for a formula start).
    """
    typed = value.lstrip(" ") if isinstance(value, str) else ""
    text = clean_text(value, field=field, max_length=max_length, required=required)
    # The typed value for tab and CR (stripping removes them), the cleaned one for the rest
    # (a newline or other space before "=" is stripped too, and must not smuggle it in).
    start = typed[:1] if typed[:1] in ("\t", "\r") else text[:1]
    if start and start in _FORMULA_START:
        raise LanyardError("invalid_field", f"{field}: must not start with {start!r} (a spreadsheet formula character)",
                           field=field, problem="formula")
    return text


def clean_email(value: object, *, field: str = "email", required: bool = True) -> str:
    """Validate an email address's syntax (no network lookups) and normalise its domain.

    :raise LanyardError: ``invalid_field`` naming ``field``.
    """
    text = clean_text(value, field=field, max_length=254, required=required)
    if not text:
        return ""
    try:
        local, _, domain = text.rpartition("@")
        if _DOT_ATOM.match(local) and len(local) <= 64:
            # Plain local parts are common; the domain check (the slow part) is shared per domain.
            return f"{local}@{_normalised_domain(domain)}"
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise LanyardError("invalid_field", f"{field}: {exc}", field=field, problem="email") from None


_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


@lru_cache(maxsize=8192)
def _normalised_domain(domain: str) -> str:
    """The normalised domain of an address, as email-validator decides it.

    :raise EmailNotValidError: the domain is not valid.
    """
    return validate_email(f"postmaster@{domain}", check_deliverability=False).normalized.rpartition("@")[2]


def fold(text: str) -> str:
    """Case- and accent-insensitive key for search and uniqueness (Zoë → zoe, Müller → muller)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def email_key(email: str) -> str:
    """Case-insensitive uniqueness key of an email address."""
    return email.casefold()


def neutralise_formula(value: str) -> str:
    """Prefix a cell that a spreadsheet would run as a formula with an apostrophe."""
    if value and value.startswith(_FORMULA_START):
        return "'" + value
    return value
