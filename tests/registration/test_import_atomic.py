"""An import is all or nothing: a bad row after 5,000 good ones leaves no registration (nor its codes, which are
its columns), health record, search term or audit entry behind, whether validation finds the row or the database
itself refuses it mid-insert."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from registration.audit import Actor
from registration.errors import LanyardError
from registration.extensions import db
from registration.importing import BATCH, HEADER, import_registrations
from registration.models import AuditEvent, HealthRecord, Registration, SearchTerm

GOOD_ROWS = 5_000
REFUSED_NAME = "Refused"


def good_rows(n: int = GOOD_ROWS) -> list[str]:
    """``n`` full registrants, each with a verified vaccination, and every tenth with a guest."""
    rows = []
    for i in range(n):
        rows.append(f"Person{i},Lastname{i},,person{i}@example.org,,City,full,,vaccinated,verified,")
        if i % 10 == 0:
            rows.append(f"Guest{i},Guestname{i},,,,,guest,person{i}@example.org,vaccinated,verified,")
    return rows


def write_csv(tmp_path, rows: list[str]):
    path = tmp_path / "import.csv"
    path.write_text("\n".join([",".join(HEADER), *rows]) + "\n", encoding="utf-8")
    return path


def left_behind() -> dict[str, int]:
    """What any import left in the database, as a new connection sees it (the test's session rolled back)."""
    db.session.rollback()
    with db.engine.connect() as conn:
        def count(model, *where):
            return conn.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar()

        return {"registrations": count(Registration), "health_records": count(HealthRecord),
                "search_terms": count(SearchTerm),
                "import_audits": count(AuditEvent, AuditEvent.action == "registration.import")}


NOTHING = {"registrations": 0, "health_records": 0, "search_terms": 0, "import_audits": 0}


@pytest.fixture
def database_refuses():
    """Make the database itself refuse to insert a registration named ``Refused`` (a trigger), as a constraint
    or a failing disk would refuse a row that passed every check in Python; removed afterwards."""
    if db.engine.dialect.name == "postgresql":
        create = [
            f"""CREATE FUNCTION lanyard_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.last_name = '{REFUSED_NAME}' THEN RAISE EXCEPTION 'refused by the test'; END IF;
                    RETURN NEW;
                END $$""",
            """CREATE TRIGGER lanyard_test_refuse BEFORE INSERT ON registrations
               FOR EACH ROW EXECUTE FUNCTION lanyard_test_refuse()""",
        ]
        drop = ["DROP TRIGGER IF EXISTS lanyard_test_refuse ON registrations",
                "DROP FUNCTION IF EXISTS lanyard_test_refuse()"]
    else:
        create = [f"""CREATE TRIGGER lanyard_test_refuse BEFORE INSERT ON registrations
                      WHEN NEW.last_name = '{REFUSED_NAME}'
                      BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"""]
        drop = ["DROP TRIGGER IF EXISTS lanyard_test_refuse"]
    with db.engine.begin() as conn:
        for statement in create:
            conn.execute(sa.text(statement))
    yield
    db.session.rollback()
    with db.engine.begin() as conn:
        for statement in drop:
            conn.execute(sa.text(statement))


def test_the_good_rows_span_several_insert_batches():
    # Otherwise a commit per batch would have nothing to leave behind.
    assert GOOD_ROWS > 2 * BATCH


def test_the_good_rows_alone_import_completely(app, runner, tmp_path):
    rows = good_rows()
    result = runner.invoke(args=["import", str(write_csv(tmp_path, rows))])
    assert result.exit_code == 0, result.output
    found = left_behind()
    assert found["registrations"] == found["health_records"] == len(rows) == GOOD_ROWS + GOOD_ROWS // 10
    assert found["import_audits"] == 1


def test_a_bad_row_after_5000_good_ones_imports_nothing_and_is_named_by_its_line(app, runner, tmp_path):
    rows = good_rows() + ["Bad,Email,,not-an-email,,,full,,,,"]
    result = runner.invoke(args=["import", str(write_csv(tmp_path, rows))])
    assert result.exit_code == 1, result.output
    bad_line = len(rows) + 1  # the header is line 1
    assert [line.split(":")[0] for line in result.output.splitlines() if line.startswith("line ")] == [
        f"line {bad_line}"]
    assert left_behind() == NOTHING


REFUSED = [
    # (the row the database refuses, placed after every good row)
    pytest.param(f"Last,{REFUSED_NAME},,last@example.org,,,full,,vaccinated,verified,", id="a-full-registrant"),
    # Guests are inserted after every host: a commit between the two layers would keep the hosts.
    pytest.param(f"Late,{REFUSED_NAME},,,,,guest,person1@example.org,vaccinated,verified,", id="a-guest"),
]


@pytest.mark.parametrize("refused_row", REFUSED)
def test_a_row_the_database_refuses_mid_import_leaves_nothing_behind(app, settings, event, tmp_path,
                                                                    database_refuses, refused_row):
    with open(write_csv(tmp_path, good_rows() + [refused_row]), encoding="utf-8", newline="") as stream:
        with pytest.raises(sa.exc.DBAPIError):
            import_registrations(stream, event, settings=settings, actor=Actor.system("test"))
    assert left_behind() == NOTHING


@pytest.mark.parametrize("refused_row", REFUSED)
def test_the_import_command_says_why_and_commits_nothing_when_the_database_refuses_a_row(
        app, runner, tmp_path, database_refuses, refused_row):
    result = runner.invoke(args=["import", str(write_csv(tmp_path, good_rows() + [refused_row]))])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # an answer, not a crash
    assert "refused by the test" in result.output  # the database's own reason is passed on
    assert left_behind() == NOTHING


def test_an_import_after_a_refused_one_starts_from_an_empty_database(app, runner, tmp_path):
    rows = good_rows(30)
    refused = runner.invoke(args=["import", str(write_csv(tmp_path, rows + ["Bad,Row,,,,,full,,,,"]))])
    assert refused.exit_code == 1
    result = runner.invoke(args=["import", str(write_csv(tmp_path, rows))])
    assert result.exit_code == 0, result.output
    assert left_behind()["registrations"] == len(rows)


def test_a_dry_run_of_5000_good_rows_writes_nothing(app, settings, event, tmp_path):
    with open(write_csv(tmp_path, good_rows()), encoding="utf-8", newline="") as stream:
        report = import_registrations(stream, event, settings=settings, actor=Actor.system("test"), dry_run=True)
    assert report.rows == GOOD_ROWS + GOOD_ROWS // 10 and not report.errors
    assert left_behind() == NOTHING


def test_validation_refusals_carry_the_report_with_every_bad_line(app, settings, event, tmp_path):
    rows = good_rows(20) + ["No,Email,,,,,full,,,,", "Bad,Email,,nope,,,full,,,,"]
    with open(write_csv(tmp_path, rows), encoding="utf-8", newline="") as stream:
        with pytest.raises(LanyardError) as caught:
            import_registrations(stream, event, settings=settings, actor=Actor.system("test"))
    assert caught.value.code == "import_invalid"
    assert [error.line for error in caught.value.extra["report"].errors] == [len(rows), len(rows) + 1]
    assert left_behind() == NOTHING


# Names within 100 characters whose folded search key is longer (ß → ss, ﬃ → ffi): PostgreSQL refused them
# mid-insert ("value too long for type character varying(100)"); validation now refuses them by line.
LONG_WHEN_FOLDED = [pytest.param("ß" * 100, id="sharp-s"), pytest.param("Ma" + "ﬃ" * 40, id="ligatures")]


@pytest.mark.parametrize("last_name", LONG_WHEN_FOLDED)
def test_a_name_that_folds_longer_than_its_column_is_refused_by_its_line(app, runner, tmp_path, last_name):
    rows = good_rows(20) + [f"Long,{last_name},,long@example.org,,,full,,,,"]
    result = runner.invoke(args=["import", str(write_csv(tmp_path, rows))])
    assert result.exit_code == 1, result.output
    assert [line.split(":")[:2] for line in result.output.splitlines() if line.startswith("line ")] == [
        [f"line {len(rows) + 1}", " last_name"]]
    assert left_behind() == NOTHING


@pytest.mark.parametrize("last_name", LONG_WHEN_FOLDED)
def test_a_registration_with_such_a_name_is_refused_by_its_field(app, make_registration, last_name):
    with pytest.raises(LanyardError) as caught:
        make_registration(last_name=last_name)
    assert (caught.value.code, caught.value.extra["field"]) == ("invalid_field", "last_name")
    assert left_behind()["registrations"] == 0


def test_a_name_of_100_characters_that_folds_to_100_is_accepted(app, make_registration):
    registration = make_registration(last_name="Ü" * 100, badge_name="Ü.")[0].registration
    assert registration.last_name_key == "u" * 100
