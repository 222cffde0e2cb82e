"""Staff accounts: password rules, hashing, sessions that end on a password change or when disabled, tokens."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from registration.audit import Actor
from registration.codes import hash_code
from registration.errors import LanyardError
from registration.extensions import db
from registration.models import AuditEvent, StaffUser
from registration.staff import (PASSWORD_MAX, PASSWORD_MIN, add_staff, new_staff_token, set_staff_active,
                                set_staff_password, staff_by_email, verify_staff_password)

from .conftest import STAFF_PASSWORD, count


@pytest.fixture
def app(service_app):
    """The desk service tests' shared app, on a fresh database (see ``service_app``)."""
    return service_app

SYSTEM = Actor.system("test")
#: make_user's default password: the run's one real scrypt hash of it is stored (see ``reuse_staff_hash``).
GOOD = STAFF_PASSWORD
#: Another password, hashed for real wherever it is used.
OTHER = "correct horse battery"


@pytest.fixture
def make_user(app, reuse_staff_hash):
    """Factory: add a staff user; returns the StaffUser."""

    def make(email: str = "reg@example.org", *, role: str = "registrar", password: str = GOOD, **options):
        user, _token = add_staff(email, role=role, actor=SYSTEM, password=password, **options)
        db.session.commit()
        return user

    return make


BAD_PASSWORDS = [
    ("empty", ""),
    ("none", None),
    ("eleven characters", "x" * (PASSWORD_MIN - 1)),
    ("twelve spaces", " " * PASSWORD_MIN),
    ("tabs and newlines", "\t\n\r " * 5),
    ("ideographic spaces", "\u3000" * 20),
    ("201 characters", "x" * (PASSWORD_MAX + 1)),
    ("10,000 characters", "x" * 10_000),
    ("not text", 123456789012),
    ("bytes", b"correct horse battery"),
]


@pytest.mark.parametrize("password", [p for _n, p in BAD_PASSWORDS], ids=[n for n, _p in BAD_PASSWORDS])
def test_add_staff_refuses_a_bad_password_and_adds_nobody(app, password):
    with pytest.raises(LanyardError) as caught:
        add_staff("reg@example.org", role="registrar", actor=SYSTEM, password=password)
    assert caught.value.code == "invalid_field"
    assert caught.value.extra["field"] == "password"
    db.session.rollback()
    assert count(StaffUser) == 0


@pytest.mark.parametrize("password", ["y" * PASSWORD_MIN, "y" * PASSWORD_MAX, " padded password ", "pässwörd-ñ-中文"],
                         ids=["12", "200", "spaces around", "other scripts"])
def test_add_staff_accepts_passwords_from_12_to_200_characters(app, password):
    user, _ = add_staff("reg@example.org", role="registrar", actor=SYSTEM, password=password)
    assert user.password_hash.startswith("scrypt:")
    assert verify_staff_password(user, password)


def test_passwords_are_stored_as_scrypt_hashes_with_their_own_salt(app):
    first, _ = add_staff("one@example.org", role="registrar", actor=SYSTEM, password=OTHER)
    second, _ = add_staff("two@example.org", role="door", actor=SYSTEM, password=OTHER)
    assert first.password_hash.startswith("scrypt:") and second.password_hash.startswith("scrypt:")
    assert OTHER not in first.password_hash
    assert first.password_hash != second.password_hash
    assert verify_staff_password(first, OTHER) and verify_staff_password(second, OTHER)


def test_add_staff_records_and_starts_at_generation_one(make_user):
    user = make_user(role="admin")
    assert (user.active, user.session_generation, user.role, user.api_token_hash) == (True, 1, "admin", None)
    assert count(AuditEvent, AuditEvent.action == "staff.add") == 1


def test_add_staff_with_a_token_stores_only_its_hash(app):
    user, token = add_staff("api@example.org", role="registrar", actor=SYSTEM, password=GOOD, with_token=True)
    db.session.commit()
    assert token.startswith("S1") and user.api_token_hash == hash_code(token)


@pytest.mark.parametrize(("email", "role", "code"), [
    ("reg@example.org", "superuser", "role_unknown"),
    ("reg@example.org", "", "role_unknown"),
    ("not an email", "registrar", "invalid_field"),
    ("", "registrar", "invalid_field"),
    ("x" * 300 + "@example.org", "registrar", "invalid_field"),
])
def test_add_staff_refuses_bad_emails_and_roles(app, email, role, code):
    with pytest.raises(LanyardError) as caught:
        add_staff(email, role=role, actor=SYSTEM, password=GOOD)
    assert caught.value.code == code


def test_an_email_is_one_account_whatever_its_case(make_user):
    make_user("Reg@Example.org")
    with pytest.raises(LanyardError) as caught:
        add_staff("REG@example.org", role="door", actor=SYSTEM, password=GOOD)
    assert caught.value.code == "staff_exists"
    assert staff_by_email(" reg@example.org ").email == "reg@example.org"


def test_a_new_password_ends_every_session_and_replaces_the_old_one(make_user):
    user = make_user()
    set_staff_password(user, "a brand new password", actor=SYSTEM)
    db.session.commit()
    assert user.session_generation == 2
    assert user.password_hash.startswith("scrypt:")
    assert verify_staff_password(user, "a brand new password")
    assert not verify_staff_password(user, GOOD)
    assert count(AuditEvent, AuditEvent.action == "staff.password") == 1


@pytest.mark.parametrize("password", [p for _n, p in BAD_PASSWORDS], ids=[n for n, _p in BAD_PASSWORDS])
def test_a_bad_new_password_is_refused_and_the_sessions_stay(make_user, password):
    user = make_user()
    old_hash = user.password_hash
    with pytest.raises(LanyardError) as caught:
        set_staff_password(user, password, actor=SYSTEM)
    assert caught.value.code == "invalid_field"
    db.session.rollback()
    user = db.session.get(StaffUser, user.id)
    assert (user.session_generation, user.password_hash) == (1, old_hash)


def test_disabling_a_user_ends_their_sessions_and_their_sign_in(make_user, make_staff):
    user = make_user()
    admin = make_staff("admin")[1]
    set_staff_active(user, False, actor=admin)
    db.session.commit()
    assert (user.active, user.session_generation) == (False, 2)
    assert not verify_staff_password(user, GOOD)
    set_staff_active(user, True, actor=admin)
    db.session.commit()
    assert user.active and verify_staff_password(user, GOOD)
    assert user.session_generation == 2  # sessions from before the disable stay ended
    actions = db.session.execute(sa.select(AuditEvent.action).where(AuditEvent.target_type == "StaffUser",
                                                                    AuditEvent.target_id == user.id)
                                 .order_by(AuditEvent.id)).scalars().all()
    assert actions[-2:] == ["staff.disable", "staff.enable"]


def test_disabling_a_disabled_user_changes_nothing(make_user, make_staff):
    user = make_user()
    admin = make_staff("admin")[1]
    set_staff_active(user, False, actor=admin)
    set_staff_active(user, False, actor=admin)
    db.session.commit()
    assert user.session_generation == 2
    assert count(AuditEvent, AuditEvent.action == "staff.disable") == 1


def test_an_admin_cannot_disable_themselves(make_staff):
    user, admin = make_staff("admin")
    with pytest.raises(LanyardError) as caught:
        set_staff_active(user, False, actor=admin)
    assert caught.value.code == "invalid_field"
    db.session.rollback()
    user = db.session.get(StaffUser, user.id)
    assert (user.active, user.session_generation) == (True, 1)


def test_a_new_token_replaces_the_old_one(app):
    user, old = add_staff("api@example.org", role="registrar", actor=SYSTEM, password=GOOD, with_token=True)
    db.session.commit()
    new = new_staff_token(user, actor=SYSTEM)
    db.session.commit()
    assert new != old and new.startswith("S1")
    assert user.api_token_hash == hash_code(new) != hash_code(old)
    assert db.session.execute(sa.select(StaffUser.id).filter_by(api_token_hash=hash_code(old))).first() is None


def test_a_user_without_a_token_gets_one(make_user):
    user = make_user()
    token = new_staff_token(user, actor=SYSTEM)
    assert user.api_token_hash == hash_code(token)


@pytest.mark.parametrize("attempt", ["", "wrong password!", GOOD.upper(), GOOD + " ", "x" * 10_000],
                         ids=["empty", "wrong", "case", "trailing space", "huge"])
def test_a_wrong_password_does_not_verify(make_user, attempt):
    assert not verify_staff_password(make_user(), attempt)


def test_an_unknown_user_never_verifies(app):
    assert verify_staff_password(None, GOOD) is False


def test_a_user_without_a_password_never_verifies(make_user):
    user = make_user()
    user.password_hash = ""
    assert verify_staff_password(user, "") is False and verify_staff_password(user, GOOD) is False
    db.session.rollback()


@pytest.mark.parametrize("email", ["nobody@example.org", "", None, "x" * 1000, "reg@example.org\x00"], ids=repr)
def test_an_unknown_email_is_not_found(make_user, email):
    make_user()
    with pytest.raises(LanyardError) as caught:
        staff_by_email(email)
    assert caught.value.code == "not_found"
