"""Registration, badge and management codes: random, Crockford base32, stored only as hashes.

A code is a kind-and-version prefix (``R1`` registration, ``B1`` badge, ``M1`` management
link, ``K1`` kiosk token, ``E1`` kiosk enrolment, ``S1`` staff API token) followed by 26
Crockford base32 characters (130 random bits). Upper-case letters and digits only, so a QR code uses its compact alphanumeric mode and a keyboard-wedge
scanner types it the same on every layout.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from .errors import LanyardError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BODY_LENGTH = 26  # 26 * 5 = 130 bits
MAX_INPUT_LENGTH = 64  # anything longer is rejected before it is looked at
KINDS = {"R1": "registration", "B1": "badge", "M1": "manage", "K1": "kiosk", "E1": "enrol", "S1": "staff_token"}
PREFIX = {kind: prefix for prefix, kind in KINDS.items()}
# Crockford decoding: case-insensitive, O->0, I/L->1; hyphens and spaces are for humans.
_TRANSLATE = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})
_ALLOWED = frozenset(ALPHABET)
_RFC4648_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET)


@dataclass(frozen=True)
class ParsedCode:
    """A syntactically valid code: its kind and its canonical text."""

    kind: str
    text: str

    @property
    def digest(self) -> str:
        """The hash stored in the database."""
        return hash_code(self.text)


def new_code(kind: str) -> str:
    """Return a fresh random code of ``kind`` (registration, badge, manage, kiosk, enrol, staff_token)."""
    # 20 random bytes encode to 32 base32 characters; the first 26 carry 130 random bits.
    body = base64.b32encode(secrets.token_bytes(20))[:BODY_LENGTH].decode("ascii")
    return PREFIX[kind] + body.translate(_RFC4648_TO_CROCKFORD)


def hash_code(text: str) -> str:
    """Return the stored hash of a canonical code (SHA-256; the code has 130 random bits)."""
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def parse_code(raw: object) -> ParsedCode:
    """Canonicalise typed or scanned input into a code.

    :raise LanyardError: ``code_malformed`` for anything that is not a Lanyard code.
    """
    if not isinstance(raw, str) or not raw or len(raw) > MAX_INPUT_LENGTH:
        raise LanyardError("code_malformed")
    text = raw.strip().upper().translate(_TRANSLATE)
    prefix, body = text[:2], text[2:]
    if prefix not in KINDS or len(body) != BODY_LENGTH or not set(body) <= _ALLOWED:
        raise LanyardError("code_malformed")
    return ParsedCode(kind=KINDS[prefix], text=prefix + body)


def digests_match(stored: str, candidate: str) -> bool:
    """Compare two hashes in constant time."""
    return hmac.compare_digest(stored.encode("ascii"), candidate.encode("ascii"))


def format_for_humans(code: str) -> str:
    """Group a code in blocks of four for reading aloud or typing (hyphens are ignored on input)."""
    prefix, body = code[:2], code[2:]
    return prefix + "-" + "-".join(body[i : i + 4] for i in range(0, len(body), 4))
