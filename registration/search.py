"""Finding people at the desk: folded search terms per registration, and the prefix search over them.

Every name-like field is folded the same way (case, accents and punctuation removed, in every
script: "Núñez" → ``nunez``, "O'Neill" → ``oneill``, "Παπαδόπουλος" → ``παπαδοπουλοσ``) and split
into words; each word, and a multi-word field run together ("De la Cruz" → ``delacruz``), is one
row of ``search_terms`` with the best-ranking field it comes from. A query is folded by the same
function and every one of its words must be the start of some term of the person.

One word: an index range scan per field kind in ranking order (last name first, so an exact last
name comes first, then longer last names, first names, badge names, organisations, emails), each
with a LIMIT and keyset pagination, so a two-letter query reads about as many rows as it shows.
Several words: the most selective word (a capped count) gives the candidates, and the others
filter them through the primary key; when even that word is common, its candidates are walked in
ranking order in batches until enough match. No ``LIKE '%…%'``: every statement is a B-tree range
or a primary-key lookup, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from .codes import ALPHABET, KINDS as CODE_KINDS, MAX_INPUT_LENGTH as CODE_MAX
from .extensions import db
from .models import Registration, SearchTerm
from .text import fold

#: Field kinds, in ranking order: a match on the last name ranks above one on the organisation.
KINDS = {"last_name": 0, "first_name": 1, "badge_name": 2, "organization": 3, "email": 4}
MAX_RESULTS = 50
QUERY_MAX = 100  # characters; longer input is cut before it is folded
MAX_WORDS = 6
TERM_MAX = 100
#: Above every code point: ``term < word + TOP`` bounds the range of terms starting with ``word``.
TOP = "\U0010ffff"
_APOSTROPHES = str.maketrans("", "", "'’ʼ`´")
_SEPARATORS = re.compile(r"[\W_]+", re.UNICODE)
_CODE_CHARS = re.compile(r"^[0-9A-Z]+$")
_CODE_TRANSLATE = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})
CODE_PREFIX_LENGTH = 8  # kind prefix (2) + 6 random characters
_CODE_PREFIXES = {prefix for prefix, kind in CODE_KINDS.items() if kind in ("registration", "badge")}


def words(text: str) -> list[str]:
    """The folded words of ``text``: lower case, no accents, apostrophes dropped, split at anything else."""
    folded = fold(text).translate(_APOSTROPHES)
    return [w for w in _SEPARATORS.split(folded) if w]


def terms_for(*, first_name: str, last_name: str, badge_name: str, organization: str,
              email: str | None) -> dict[str, int]:
    """Every term a registration with these fields is found by, with the best-ranking kind it comes from."""
    found: dict[str, int] = {}

    def add(term: str, kind: int) -> None:
        term = term[:TERM_MAX]
        if kind < found.get(term, len(KINDS)):
            found[term] = kind

    fields = {"last_name": last_name, "first_name": first_name, "badge_name": badge_name,
              "organization": organization}
    for name, value in fields.items():
        parts = words(value or "")
        for part in parts:
            add(part, KINDS[name])
        if len(parts) > 1:
            add("".join(parts), KINDS[name])
    if email:
        local, _, domain = email.rpartition("@")
        parts = words(local)
        for part in parts + words(domain.split(".")[0] if domain else ""):
            add(part, KINDS["email"])
        if len(parts) > 1:
            add("".join(parts), KINDS["email"])
    return found


def _rows(registration_id: int, event_id: int, terms: dict[str, int]) -> list[dict]:
    return [{"registration_id": registration_id, "event_id": event_id, "kind": kind, "term": term}
            for term, kind in sorted(terms.items())]


def terms_of(registration: Registration) -> dict[str, int]:
    """The search terms of a registration object (its own email only; a guest without one has none)."""
    return terms_for(first_name=registration.first_name, last_name=registration.last_name,
                     badge_name=registration.badge_name, organization=registration.organization,
                     email=registration.email if registration.email_key is not None else None)


def index_registration(registration: Registration) -> None:
    """Write the registration's search terms anew (after it was created or its names changed); flushes."""
    db.session.flush()
    table = SearchTerm.__table__
    db.session.execute(sa.delete(table).where(table.c.registration_id == registration.id))
    rows = _rows(registration.id, registration.event_id, terms_of(registration))
    if rows:
        db.session.execute(sa.insert(table), rows)


def index_rows(rows: Iterable[tuple[int, int, dict]]) -> int:
    """Bulk-insert the terms of new registrations, given ``(registration_id, event_id, fields)``; returns rows."""
    params = []
    for registration_id, event_id, fields in rows:
        params.extend(_rows(registration_id, event_id, terms_for(**fields)))
    for start in range(0, len(params), 5000):
        db.session.execute(sa.insert(SearchTerm.__table__), params[start:start + 5000])
    return len(params)


def code_prefix(code: str) -> str:
    """The characters of a canonical code kept in clear for the desk's search."""
    return code[:CODE_PREFIX_LENGTH]


@dataclass(frozen=True)
class Query:
    """A desk query, parsed: the folded words, or the start of a registration or badge code."""

    words: tuple[str, ...] = ()
    code_prefix: str = ""

    @property
    def empty(self) -> bool:
        """Nothing to search for."""
        return not self.words and not self.code_prefix


def parse_query(raw: object) -> Query:
    """Read what was typed into the search box (cut to :data:`QUERY_MAX` characters first)."""
    if not isinstance(raw, str):
        return Query()
    text = raw[:QUERY_MAX].strip()
    # Only what starts with a literal kind prefix ("R1", "B1") is a code: Crockford reads I and L as 1,
    # so without this "bill" would be the badge code prefix B111.
    code = text[:2].upper() + text[2:].upper().translate(_CODE_TRANSLATE)
    if (4 <= len(code) <= CODE_MAX and code[:2] in _CODE_PREFIXES and _CODE_CHARS.match(code)
            and set(code[2:]) <= set(ALPHABET)):
        return Query(code_prefix=code[:CODE_PREFIX_LENGTH])
    found = [w[:TERM_MAX] for w in words(text) if w.isprintable()]
    return Query(words=tuple(found[:MAX_WORDS]))


_terms = SearchTerm.__table__
_registrations = Registration.__table__
#: A word matching fewer rows than this gives every candidate at once; a commoner one is walked in ranking
#: order instead, in batches, reading at most WALK_CAP rows when every word of the query is that common.
CANDIDATE_CAP = 500
WALK_BATCH = 250
WALK_CAP = 1000


def _prefix(column, word: str):
    return sa.and_(column >= word, column < word + TOP)


def search(event_id: int, raw: object, *, limit: int = MAX_RESULTS) -> list[int]:
    """Registration ids matching what was typed, best first: exact last name, then last-name prefix, then
    first name, badge name, organisation, email; at most ``limit`` (≤ :data:`MAX_RESULTS`)."""
    limit = max(1, min(int(limit), MAX_RESULTS))
    query = parse_query(raw)
    if query.empty:
        return []
    if query.code_prefix:
        return _search_codes(event_id, query.code_prefix, limit)
    unique = list(dict.fromkeys(query.words))
    if len(unique) == 1:
        return _ranked(event_id, unique[0], limit, others=())
    counts = {word: _capped_count(event_id, word) for word in unique}
    drive = min(unique, key=lambda word: (counts[word], -len(word)))
    others = [word for word in unique if word != drive]
    if counts[drive] == 0:
        return []
    if counts[drive] < CANDIDATE_CAP:
        return _filtered_candidates(event_id, drive, others, limit)
    return _rank_several(_ranked(event_id, drive, limit, others=others), [drive, *others])


def _capped_count(event_id: int, word: str) -> int:
    """How many terms start with ``word``, counting no further than :data:`CANDIDATE_CAP`."""
    inner = (sa.select(sa.literal(1)).select_from(_terms)
             .where(_terms.c.event_id == event_id, _prefix(_terms.c.term, word)).limit(CANDIDATE_CAP).subquery())
    return db.session.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one()


def among(column, ids: list[int]):
    """``column IN ids``: one array parameter on PostgreSQL (hundreds of parameters cost more than the lookup)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam("ids", ids, type_=ARRAY(sa.Integer)))
    return column.in_(ids)


def _matching(ids: list[int], word: str) -> set[int]:
    """Those of ``ids`` with a term starting with ``word`` (primary-key lookups)."""
    if not ids:
        return set()
    return set(db.session.execute(
        sa.select(_terms.c.registration_id).distinct()
        .where(among(_terms.c.registration_id, ids), _prefix(_terms.c.term, word))).scalars())


def _ranked(event_id: int, word: str, limit: int, *, others) -> list[int]:
    """Walk the people with a term starting with ``word`` in ranking order (kind, term, id), keeping those that
    also have a term starting with each word of ``others``, until ``limit`` are found.

    With ``others`` (every word of the query is common) the walk reads at most :data:`WALK_CAP` rows, so a
    vague query costs a bounded time; the desk then says "type more to narrow it down".
    """
    found: list[int] = []
    seen: set[int] = set()
    read = 0
    for kind in KINDS.values():
        after: tuple[str, int] | None = None
        while len(found) < limit:
            want = WALK_BATCH if others else (limit - len(found)) * 2 + 4  # one person may match twice
            statement = (sa.select(_terms.c.term, _terms.c.registration_id)
                         .where(_terms.c.event_id == event_id, _terms.c.kind == kind, _prefix(_terms.c.term, word))
                         .order_by(_terms.c.term, _terms.c.registration_id)
                         .limit(want))
            if after is not None:
                statement = statement.where(sa.tuple_(_terms.c.term, _terms.c.registration_id) > sa.tuple_(*after))
            rows = db.session.execute(statement).all()
            batch = []
            for row in rows:
                if row.registration_id not in seen:
                    seen.add(row.registration_id)
                    batch.append(row.registration_id)
            for other in others:
                keep = _matching(batch, other)
                batch = [registration_id for registration_id in batch if registration_id in keep]
            found.extend(batch)
            read += len(rows)
            if len(rows) < want or (others and read >= WALK_CAP):
                break
            after = (rows[-1].term, rows[-1].registration_id)
        if len(found) >= limit or (others and read >= WALK_CAP):
            break
    return found[:limit]


def _rank_several(ids: list[int], words_: list[str]) -> list[int]:
    """Order people found by several words: most words matching a whole term first ("ada lee" puts Ada Lee
    before Ada Leeds and Lee Adams), then by the fields they matched (last name first), then alphabetically."""
    best: dict[tuple[int, str], tuple[int, int, str]] = {}  # (person, word) -> (0 if exact else 1, kind, term)
    for word in words_:
        for registration_id, kind, term in db.session.execute(
                sa.select(_terms.c.registration_id, _terms.c.kind, _terms.c.term)
                .where(among(_terms.c.registration_id, ids), _prefix(_terms.c.term, word))):
            key = (0 if term == word else 1, kind, term)
            if key < best.get((registration_id, word), (2, 0, "")):
                best[(registration_id, word)] = key

    def rank(registration_id: int):
        keys = [best.get((registration_id, word), (2, len(KINDS), "")) for word in words_]
        return (sum(k[0] for k in keys), sum(k[1] for k in keys), [k[2] for k in keys], registration_id)

    return sorted(ids, key=rank)


def _filtered_candidates(event_id: int, drive: str, others: list[str], limit: int) -> list[int]:
    """Everyone matching the selective word ``drive``, filtered by the others, then ranked by ``drive``."""
    candidates = list(dict.fromkeys(db.session.execute(
        sa.select(_terms.c.registration_id)
        .where(_terms.c.event_id == event_id, _prefix(_terms.c.term, drive))).scalars()))
    for other in others:
        keep = _matching(candidates, other)
        candidates = [registration_id for registration_id in candidates if registration_id in keep]
        if not candidates:
            return []
    return _rank_several(candidates, [drive, *others])[:limit]


def _search_codes(event_id: int, prefix: str, limit: int) -> list[int]:
    """People whose registration code (``R1…``) or any badge code (``B1…``) starts with ``prefix``."""
    from .printing.models import Badge

    if prefix.startswith("B1"):
        badges = Badge.__table__
        statement = (sa.select(badges.c.registration_id).where(badges.c.event_id == event_id,
                                                               _prefix(badges.c.code_prefix, prefix))
                     .order_by(badges.c.code_prefix, badges.c.id).limit(limit * 2))
    else:
        statement = (sa.select(_registrations.c.id)
                     .where(_registrations.c.event_id == event_id, _prefix(_registrations.c.code_prefix, prefix))
                     .order_by(_registrations.c.code_prefix, _registrations.c.id).limit(limit))
    return list(dict.fromkeys(db.session.execute(statement).scalars()))[:limit]
