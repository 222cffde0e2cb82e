"""The clearance policy: who is cleared to collect a badge at a given moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .settings import HealthPolicy

if TYPE_CHECKING:  # the model's check constraints are built from the lists below
    from .models import HealthRecord

#: The closed list of ways to be cleared (the database, forms, import and desk all take it from here).
METHODS = ("vaccinated", "negative_test", "onsite_test", "exempt")
#: Methods whose clearance runs out a fixed time after the test was taken.
TESTS = ("negative_test", "onsite_test")
#: The closed list of a health record's states.
STATES = ("attested", "verified", "rejected")


@dataclass(frozen=True)
class Clearance:
    """The verdict: cleared, or the reason code saying which desk to visit."""

    cleared: bool
    reason: str | None = None
    expires_at: datetime | None = None


def expiry_for(record: HealthRecord, policy: HealthPolicy) -> datetime | None:
    """When a record stops clearing its holder (tests expire; vaccination does not)."""
    if record.method == "negative_test" and record.test_taken_at is not None:
        return record.test_taken_at + timedelta(hours=policy.negative_test_valid_hours)
    if record.method == "onsite_test" and record.test_taken_at is not None:
        return record.test_taken_at + timedelta(hours=policy.onsite_test_valid_hours)
    return None


def assess_clearance(record: HealthRecord | None, policy: HealthPolicy, at: datetime) -> Clearance:
    """Decide whether ``record`` clears its holder at ``at`` under ``policy``."""
    if record is None:
        return Clearance(False, "health_missing")
    if record.state == "rejected":
        return Clearance(False, "health_rejected")
    needs_verification = {
        "vaccinated": policy.vaccinated_requires_verification,
        "negative_test": policy.negative_test_requires_verification,
        "onsite_test": True,  # an on-site result is always entered by staff
        "exempt": True,
    }[record.method]
    if needs_verification and record.state != "verified":
        return Clearance(False, "health_unverified")
    if record.method in TESTS:
        expires = record.expires_at or expiry_for(record, policy)
        if expires is None:
            return Clearance(False, "health_unverified")
        if at >= expires:
            return Clearance(False, "health_expired", expires)
        return Clearance(True, None, expires)
    if record.expires_at is not None and at >= record.expires_at:
        return Clearance(False, "health_expired", record.expires_at)
    return Clearance(True, None, record.expires_at)
