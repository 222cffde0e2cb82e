"""CSV import (dry run, all-or-nothing, confirmations) and CSV export (formula injection)."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from registration.codes import parse_code
from registration.extensions import db
from registration.models import HealthRecord, Registration
from tests.helpers import qr_in_message, read_outbox

HEADER = ("first_name,last_name,badge_name,email,title,organization,registration_type,host_email,"
          "health_method,health_state,test_taken_at")
GOOD = [
    "Ada,Lovelace,,ada@example.org,Mayor,City of Davis,full,,vaccinated,verified,",
    "Charles,Babbage,Charlie,charles@example.org,,City of Davis,full,,negative_test,attested,2026-11-20T08:30",
    "Annabella,Byron,,,,,guest,ada@example.org,vaccinated,attested,",
    "Σωκράτης,Παπαδόπουλος,,socrates@example.org,,Αθήνα,full,,,,",
]


def write_csv(tmp_path, rows, *, header=HEADER, bom=False, name="import.csv"):
    path = tmp_path / name
    text = "\n".join([header, *rows]) + "\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def count(model=Registration):
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar()


def test_import_creates_registrations_guests_and_health_records(runner, tmp_path):
    result = runner.invoke(args=["import", str(write_csv(tmp_path, GOOD, bom=True))])
    assert result.exit_code == 0, result.output
    assert "Imported 4 registrations (3 full, 1 guests) and 3 health records." in result.output
    assert count() == 4 and count(HealthRecord) == 3
    guest = db.session.execute(sa.select(Registration).filter_by(first_name="Annabella")).scalar_one()
    assert guest.host.email == "ada@example.org"
    assert guest.email == "ada@example.org" and guest.email_key is None
    test = db.session.execute(sa.select(HealthRecord).filter_by(method="negative_test")).scalar_one()
    assert test.test_taken_at.utcoffset().total_seconds() == 0
    assert test.test_taken_at.hour == 16  # 08:30 in Sacramento (PST) is 16:30 UTC
    assert test.expires_at is not None


def test_import_with_confirmations_mails_each_person_their_own_code(runner, tmp_path):
    result = runner.invoke(args=["import", str(write_csv(tmp_path, GOOD)), "--send-confirmations"])
    assert result.exit_code == 0, result.output
    assert "Sent 4 confirmations." in result.output
    messages = read_outbox(tmp_path / "outbox")
    assert len(messages) == 4
    found = {db.session.execute(sa.select(Registration).filter_by(code_hash=parse_code(qr_in_message(m)).digest))
             .scalar_one().first_name for m in messages}
    assert found == {"Ada", "Charles", "Annabella", "Σωκράτης"}


def test_guest_host_may_already_be_in_the_database(runner, tmp_path):
    assert runner.invoke(args=["import", str(write_csv(tmp_path, GOOD[:1], name="a.csv"))]).exit_code == 0
    result = runner.invoke(args=["import", str(write_csv(tmp_path, GOOD[2:3], name="b.csv"))])
    assert result.exit_code == 0, result.output
    assert count() == 2


BAD_ROWS = [
    ("bad email", "Bad,Email,,not-an-email,,,full,,,,", "email"),
    ("empty email", "No,Email,,,,,full,,,,", "email: required"),
    ("unknown type", "Un,Known,,uk@example.org,,,vip,,,,", "unknown type"),
    ("guest without host", "Lonely,Guest,,lg@example.org,,,guest,,,,", "host_email"),
    ("guest whose host is missing", "Lost,Guest,,,,,guest,nobody@example.org,,,", "no full registrant"),
    ("guest whose host is a guest", "Second,Guest,,,,,guest,ann@example.org,,,", "no full registrant"),
    ("duplicate email other case", "Ada,Again,,ADA@EXAMPLE.ORG,,,full,,,,", "duplicate of line 2"),
    ("control characters", "Bell\x07,Char,,bell@example.org,,,full,,,,", "not allowed"),
    ("bidi override", "Evil,\u202eNaem,,bidi@example.org,,,full,,,,", "not allowed"),
    ("zero width", "Zero\u200b,Width,,zw@example.org,,,full,,,,", "not allowed"),
    ("emoji", "Party 🎉,Person,,party@example.org,,,full,,,,", "not allowed"),
    ("over-long name", "x" * 101 + ",Long,,long@example.org,,,full,,,,", "at most 100"),
    ("huge field", "y" * 20_000 + ",Huge,,huge@example.org,,,full,,,,", "at most 1000"),
    ("empty last name", "Empty,,,empty@example.org,,,full,,,,", "last_name: required"),
    ("bad health method", "Bad,Health,,bh@example.org,,,full,,brand-x,,", "health_method"),
    ("bad test time", "Bad,Time,,bt@example.org,,,full,,negative_test,attested,yesterday", "test_taken_at"),
    ("future test time", "Fut,Ure,,fu@example.org,,,full,,negative_test,attested,2999-01-01T00:00", "future"),
    ("state without method", "No,Method,,nm@example.org,,,full,,,verified,", "health_method"),
    ("too many fields", "Too,Many,,tm@example.org,,,full,,,,,extra", "more fields"),
    ("full with host", "Has,Host,,hh@example.org,,,full,ada@example.org,,,", "only guests"),
]


@pytest.mark.parametrize("label, row, reason", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_dry_run_reports_the_bad_row_by_line_and_changes_nothing(runner, tmp_path, label, row, reason):
    rows = [GOOD[0], "Ann,Guest,,ann@example.org,,,guest,ada@example.org,,,", row]
    result = runner.invoke(args=["import", "--dry-run", str(write_csv(tmp_path, rows))])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("line ")]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("line 4: ") and reason in lines[0], lines
    assert count() == 0


def test_dry_run_lists_every_bad_row(runner, tmp_path):
    rows = [GOOD[0]] + [row for _, row, _ in BAD_ROWS[:5]]
    result = runner.invoke(args=["import", "--dry-run", str(write_csv(tmp_path, rows))])
    assert result.exit_code == 1
    assert [line.split(":")[0] for line in result.output.splitlines() if line.startswith("line ")] == [
        f"line {n}" for n in range(3, 8)
    ]


def test_clean_dry_run_says_so_and_imports_nothing(runner, tmp_path):
    result = runner.invoke(args=["import", "--dry-run", str(write_csv(tmp_path, GOOD))])
    assert result.exit_code == 0, result.output
    assert "4 rows checked; all good" in result.output
    assert count() == 0


def test_real_run_with_one_bad_row_imports_nothing(runner, tmp_path):
    result = runner.invoke(args=["import", str(write_csv(tmp_path, GOOD + ["Bad,Email,,nope,,,full,,,,"]))])
    assert result.exit_code == 1
    assert "line 6: email" in result.output
    assert count() == 0 and count(HealthRecord) == 0


def test_missing_column_is_reported(runner, tmp_path):
    result = runner.invoke(args=["import", str(write_csv(tmp_path, ["Ada,ada@example.org"], header="first_name,email"))])
    assert result.exit_code == 1
    assert "line 1: header: missing column last_name, registration_type" in result.output


def test_not_utf8_is_reported(runner, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "\nJos\xe9,Garc\xeda,,jg@example.org,,,full,,,,\n").encode("latin-1"))
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code != 0
    assert "not UTF-8" in result.output


def test_extra_columns_are_ignored(runner, tmp_path):
    rows = [row + ",ignored" for row in GOOD]
    result = runner.invoke(args=["import", str(write_csv(tmp_path, rows, header=HEADER + ",member_id"))])
    assert result.exit_code == 0, result.output
    assert count() == 4


def test_names_are_nfc_normalised(runner, tmp_path):
    decomposed = "Zoe\u0308"  # e + combining diaeresis
    result = runner.invoke(args=["import", str(write_csv(tmp_path, [f"{decomposed},Smith,,z@example.org,,,full,,,,"]))])
    assert result.exit_code == 0, result.output
    assert db.session.execute(sa.select(Registration.first_name)).scalar_one() == "Zo\u00eb"


@pytest.mark.parametrize("payload", ["=HYPERLINK(\"http://evil\")", "+1+2", "-2+3", "@SUM(A1)"])
def test_export_neutralises_spreadsheet_formulas(runner, tmp_path, payload):
    row = f"Ada,Lovelace,,ada@example.org,,\"{payload.replace(chr(34), chr(34) * 2)}\",full,,,,"
    assert runner.invoke(args=["import", str(write_csv(tmp_path, [row]))]).exit_code == 0
    out = tmp_path / "export.csv"
    result = runner.invoke(args=["export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0]["organization"] == "'" + payload
    assert rows[0]["checked_in_at"] == ""


def test_export_has_every_registration_with_host(runner, tmp_path):
    assert runner.invoke(args=["import", str(write_csv(tmp_path, GOOD))]).exit_code == 0
    result = runner.invoke(args=["export"])
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 4
    assert {r["host_email"] for r in rows if r["registration_type"] == "guest"} == {"ada@example.org"}
    assert "health" not in ",".join(rows[0].keys())
