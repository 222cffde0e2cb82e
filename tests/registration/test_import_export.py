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
    assert "Imported 4 registrations (3 full, 1 guest) and 3 health records." in result.output
    assert count() == 4 and count(HealthRecord) == 3
    guest = db.session.execute(sa.select(Registration).filter_by(first_name="Annabella")).scalar_one()
    assert guest.host.email == "ada@example.org"
    assert guest.email == "ada@example.org" and guest.email_key is None
    test = db.session.execute(sa.select(HealthRecord).filter_by(method="negative_test")).scalar_one()
    assert test.test_taken_at.utcoffset().total_seconds() == 0
    assert test.test_taken_at.hour == 16  # 08:30 in Sacramento (PST) is 16:30 UTC
    assert test.expires_at is not None


def test_each_row_gets_its_language_column_or_the_events_first_language(runner, tmp_path, settings):
    rows = ["Ana,García,,ana@example.org,,,full,,,,,ES", "Ben,Brown,,ben@example.org,,,full,,,,,",
            "Bea,García,,,,,guest,ana@example.org,,,,es"]
    result = runner.invoke(args=["import", str(write_csv(tmp_path, rows, header=HEADER + ",language"))])
    assert result.exit_code == 0, result.output
    languages = dict(db.session.execute(sa.select(Registration.first_name, Registration.language)).all())
    assert languages == {"Ana": "es", "Ben": settings.languages[0], "Bea": "es"}


def test_a_language_the_event_does_not_offer_is_a_bad_row(runner, tmp_path):
    rows = ["Ana,García,,ana@example.org,,,full,,,,,es", "Fred,Martin,,fred@example.org,,,full,,,,,fr"]
    result = runner.invoke(args=["import", "--dry-run", str(write_csv(tmp_path, rows, header=HEADER + ",language"))])
    assert result.exit_code == 1, result.output
    assert "line 3: language: one of en, es (or empty), not 'fr'" in result.output
    assert count() == 0


def test_without_a_language_column_everyone_gets_the_events_first_language(runner, tmp_path, settings):
    result = runner.invoke(args=["import", str(write_csv(tmp_path, GOOD))])
    assert result.exit_code == 0, result.output
    assert set(db.session.execute(sa.select(Registration.language)).scalars()) == {settings.languages[0]}


def test_an_imported_registration_has_the_same_columns_as_one_from_the_form(runner, tmp_path, settings):
    from registration.audit import Actor
    from registration.services import PersonInput, current_event, register

    result = runner.invoke(args=["import", str(write_csv(tmp_path, [GOOD[0]]))])
    assert result.exit_code == 0, result.output
    [formed] = register(current_event(settings), PersonInput("Ada", "Lovelace", "ada2@example.org", "full",
                                                               title="Mayor", organization="City of Davis"),
                        settings=settings, actor=Actor.system("test"), language=settings.languages[0])
    db.session.commit()
    imported, formed = (db.session.execute(sa.select(Registration).filter_by(email=email)).scalar_one()
                        for email in ("ada@example.org", "ada2@example.org"))
    differ = {"id", "email", "email_key", "code_hash", "code_prefix", "manage_hash", "code_issued_at", "created_at",
              "updated_at", "source"}
    columns = [c.key for c in Registration.__table__.columns if c.key not in differ]
    assert [getattr(imported, c) for c in columns] == [getattr(formed, c) for c in columns]
    assert (imported.source, formed.source) == ("import", "online")


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
    ("verified negative test without its time", "Neg,Test,,nt@example.org,,,full,,negative_test,verified,",
     "test_taken_at: required for a verified negative_test"),
    ("verified on-site test without its time", "On,Site,,os@example.org,,,full,,onsite_test,verified,",
     "test_taken_at: required for a verified onsite_test"),
    ("verified negative test, blank time", "Neg,Blank,,nb@example.org,,,full,,Negative_Test, Verified ,   ",
     "test_taken_at: required"),
    ("formula first name", '"=HYPERLINK(""http://evil"",""x"")",Smith,,f1@example.org,,,full,,,,',
     "first_name: must not start with '='"),
    ("plus last name", "Ada,+1+2,,f2@example.org,,,full,,,,", "last_name: must not start with '+'"),
    ("minus badge name", "Ada,Smith,-2+3,f3@example.org,,,full,,,,", "badge_name: must not start with '-'"),
    ("at title", "Ada,Smith,,f4@example.org,@SUM(A1),,full,,,,", "title: must not start with '@'"),
    ("formula organisation", "Ada,Smith,,f5@example.org,,=cmd|' /C calc'!A0,full,,,,", "organization: must not"),
    ("tab then formula", "\t=1+1,Smith,,f6@example.org,,,full,,,,", "first_name: must not start with '\\t'"),
    ("carriage return then formula", '"\r=1+1",Smith,,f7@example.org,,,full,,,,', "first_name: must not start with"),
    ("spaces then formula", "  =1+1,Smith,,f8@example.org,,,full,,,,", "first_name: must not start with '='"),
    ("newline then formula", '"\n=1+1",Smith,,f9@example.org,,,full,,,,', "first_name: must not start with '='"),
    ("no-break space then formula", "\u00a0=1+1,Smith,,f10@example.org,,,full,,,,", "first_name: must not start"),
    ("guest formula", "=1+1,Guest,,,,,guest,ada@example.org,,,", "first_name: must not start with '='"),
    ("all empty", ",,,,,,,,,,", "registration_type: unknown type"),
    ("only a type", ",,,,,,full,,,,", "first_name: required"),
    ("NUL byte", "Nul\x00,Byte,,nul@example.org,,,full,,,,", "not allowed"),
    ("escape sequence", "Esc\x1b[31m,Seq,,esc@example.org,,,full,,,,", "not allowed"),
    ("line separator", "Line\u2028Sep,X,,ls@example.org,,,full,,,,", "not allowed"),
    ("huge email", "Huge,Mail,," + "m" * 990 + "@example.org,,,full,,,,", "at most 1000"),
    ("huge badge name", "Huge,Badge," + "b" * 101 + ",hb@example.org,,,full,,,,", "badge_name: at most 100"),
    ("full name longer than a badge name", "n" * 60 + "," + "m" * 60 + ",,nm@example.org,,,full,,,,",
     "badge_name: first and last name together are too long for the badge; enter the name to print on the badge"),
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


GOOD_ROWS = [
    ("greek", "Σωκράτης,Παπαδόπουλος,,g@example.org,,Αθήνα,full,,,,", "Σωκράτης"),
    ("cyrillic", "Дмитрий,Иванов,,c@example.org,,,full,,,,", "Дмитрий"),
    ("han", "小龍,李,,h@example.org,,,full,,,,", "小龍"),
    ("arabic", "محمد,عبد الله,,a@example.org,,,full,,,,", "محمد"),
    ("persian with ZWNJ", "می\u200cخواهم,X,,p@example.org,,,full,,,,", "می\u200cخواهم"),
    ("hyphen and apostrophe inside", "Anne-Marie,O'Brien-Smith,,am@example.org,,,full,,,,", "Anne-Marie"),
    ("formula characters inside", "Ada,Smith,Ada = Queen,eq@example.org,,5th Ward + Co,full,,,,", "Ada"),
    ("100 characters", "n" * 100 + ",Long,Nora Long,n@example.org,,,full,,,,", "n" * 100),
    ("full name of exactly 100 characters", "n" * 50 + "," + "m" * 49 + ",,n@example.org,,,full,,,,", "n" * 50),
    ("verified negative test with its time", "Neg,Ok,,ok@example.org,,,full,,negative_test,verified,2026-11-20T08:30",
     "Neg"),
    ("attested negative test without a time", "Neg,Later,,later@example.org,,,full,,negative_test,attested,", "Neg"),
]


@pytest.mark.parametrize("label, row, first_name", GOOD_ROWS, ids=[g[0] for g in GOOD_ROWS])
def test_names_in_any_script_and_harmless_symbols_are_imported(runner, tmp_path, label, row, first_name):
    result = runner.invoke(args=["import", str(write_csv(tmp_path, [row]))])
    assert result.exit_code == 0, result.output
    assert db.session.execute(sa.select(Registration.first_name)).scalar_one() == first_name


@pytest.mark.parametrize("rows, summary", [
    ([GOOD[0]], "Imported 1 registration (1 full, 0 guests) and 1 health record."),
    (GOOD[:3], "Imported 3 registrations (2 full, 1 guest) and 3 health records."),
    ([GOOD[3]], "Imported 1 registration (1 full, 0 guests) and 0 health records."),
])
def test_the_summary_counts_in_the_right_plural(runner, tmp_path, rows, summary):
    result = runner.invoke(args=["import", str(write_csv(tmp_path, rows))])
    assert result.exit_code == 0, result.output
    assert summary in result.output


def test_dry_run_summaries_count_in_the_right_plural(runner, tmp_path):
    result = runner.invoke(args=["import", "--dry-run", str(write_csv(tmp_path, [GOOD[0]], name="one.csv"))])
    assert "1 row checked; all good." in result.output
    result = runner.invoke(args=["import", "--dry-run", str(write_csv(tmp_path, ["Bad,Email,,nope,,,full,,,,"],
                                                                      name="bad.csv"))])
    assert "1 of 1 row is bad; nothing was imported." in result.output
    result = runner.invoke(args=["import", "--dry-run", str(write_csv(tmp_path, [GOOD[0], "B,E,,no,,,full,,,,",
                                                                                 "C,E,,no2,,,full,,,,"],
                                                                      name="two.csv"))])
    assert "2 of 3 rows are bad; nothing was imported." in result.output


def test_online_form_and_import_refuse_the_same_names():
    """One validator for both: each formula the import refuses, the form's validator refuses for the same reason."""
    from registration.errors import LanyardError
    from registration.text import clean_name

    formulas = [(label, row, reason) for label, row, reason in BAD_ROWS if "must not start" in reason]
    assert len(formulas) >= 10
    for label, row, reason in formulas:
        field = reason.split(":")[0]
        value = next(csv.DictReader(io.StringIO(HEADER + "\n" + row, newline="")))[field]
        with pytest.raises(LanyardError) as refused:
            clean_name(value, field=field, max_length=1000)
        assert refused.value.extra["problem"] == "formula", label
        assert reason in refused.value.detail, label


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
    # Imports and forms refuse such values now; rows stored before that rule must still export safely.
    row = "Ada,Lovelace,,ada@example.org,,City,full,,,,"
    assert runner.invoke(args=["import", str(write_csv(tmp_path, [row]))]).exit_code == 0
    db.session.execute(sa.update(Registration).values(organization=payload))
    db.session.commit()
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
