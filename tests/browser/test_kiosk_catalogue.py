"""Every string the kiosk page shows exists in every language, with the same fields to fill in.

No browser needed: this reads the tables the kiosk view renders into the page.
"""

from __future__ import annotations

import re

from flask_babel import force_locale

from kiosk.views import _messages

FIELD = re.compile(r"\{(\w+)\}")


def test_every_kiosk_string_is_translated_with_the_same_fields(app, settings):
    with app.test_request_context("/kiosk/"):
        tables = {}
        for language in settings.languages:
            with force_locale(language):
                tables[language] = _messages()
    english = tables["en"]
    for language, table in tables.items():
        assert set(table) == set(english)
        for key, text in table.items():
            assert text.strip(), (language, key)
            assert sorted(FIELD.findall(text)) == sorted(FIELD.findall(english[key])), (language, key, text)
    untranslated = [key for key, text in tables["es"].items() if text == english[key]]
    assert untranslated == []


def test_spanish_says_gafete_never_credencial(app, settings):
    from kiosk.views import _messages

    with app.test_request_context("/kiosk/"), force_locale("es"):
        texts = _messages().values()
    assert not [text for text in texts if "credencial" in text.lower()]
    assert sum("gafete" in text for text in texts) >= 5
