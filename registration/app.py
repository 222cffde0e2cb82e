"""The application factory: the one place that reads config and wires every blueprint in."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app, g, render_template, request, session
from flask.json.provider import DefaultJSONProvider
from flask_babel import get_locale, gettext
from werkzeug.routing import IntegerConverter

from .extensions import babel, csrf, db, login_manager, migrate
from .settings import MIGRATIONS_FOLDER, ROOT, TEMPLATE_FOLDER, Settings, current_settings, load_settings

log = logging.getLogger(__name__)


def _sqlite_pragmas(synchronous: str):
    """The listener that sets up each new SQLite connection: WAL lets readers run beside the writer; the busy
    timeout makes writers queue, not fail; ``synchronous`` is FULL unless the operator chose NORMAL (in WAL mode
    NORMAL may lose the last commits to a power cut: check-ins whose badges were already printed)."""
    level = {"full": "FULL", "normal": "NORMAL"}[synchronous]

    def set_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute(f"PRAGMA synchronous={level}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return set_pragmas


def _private_sqlite_file(url: str) -> None:
    """Create a new SQLite database file readable by its owner only (SQLite gives its -wal and -shm files the
    same mode); the database holds personal data."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return
    path = Path(url.removeprefix("sqlite:///"))
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # another worker may create it first: theirs is as good
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _engine_options(url: str) -> dict:
    """Connection pool settings: SQLite waits for its lock; PostgreSQL keeps a few connections per process."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    # No pool_pre_ping: it costs a round trip on every request. A connection that died with the server (a
    # restart, a failover) fails its first statement instead; the pool then discards every connection made
    # before it, and the request runs again on a fresh one (LanyardFlask), so no kiosk sees an error.
    # Connections are also renewed every half hour. One connection per worker thread is enough; the overflow
    # covers the CLI's and the print worker's threads.
    return {"pool_size": 5, "max_overflow": 10, "pool_recycle": 1800}


class LanyardFlask(Flask):
    """Flask, plus the one place where a request that met a storage fault is run again or answered 503."""

    def full_dispatch_request(self):
        """Dispatch the request; one that failed on a dead or faulty database connection before committing anything
        runs once more on a fresh connection (the pool has discarded the old ones); if that fails too, or work was
        already committed, the answer is 503 ``storage_unavailable``."""
        from . import storage

        for attempt in (1, 2):
            storage.begin_attempt()
            try:
                return super().full_dispatch_request()
            except sa.exc.DBAPIError as error:
                if not storage.is_storage_fault(error):
                    raise
                db.session.rollback()
                if attempt == 1 and storage.may_retry():
                    log.warning("%s %s: the database failed (%s); running the request again on a fresh connection",
                                request.method, request.path, error.orig)
                    continue
                log.error("%s %s: storage unavailable: %s", request.method, request.path, error.orig)
                return self.finalize_request(_storage_unavailable())


def _storage_unavailable():
    """503 ``storage_unavailable``: the one JSON error shape for the API and the probes, the error page elsewhere."""
    from . import storage
    from .api import refusal
    from .errors import LanyardError

    if request.path.startswith("/api/") or request.blueprint == "probes":
        response = refusal(LanyardError("storage_unavailable"))
    else:
        response = current_app.make_response(
            (render_template("error.html", status=503, title=gettext("Temporarily unavailable")), 503))
    response.headers["Retry-After"] = str(storage.RETRY_AFTER)
    return response


def select_locale() -> str:
    """The visitor's language: an explicit choice, else the browser's preference."""
    settings: Settings = g.get("settings") or current_settings()
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in settings.languages:
        return chosen
    return request.accept_languages.best_match(settings.languages) or settings.languages[0]


def create_app(config_path=None, *, overrides: dict | None = None, settings: Settings | None = None) -> Flask:
    """Build the Flask app from ``config.toml`` (or ``LANYARD_CONFIG``).

    :raise ConfigError: the configuration is missing a key or has a bad value.
    """
    settings = settings or load_settings(config_path, overrides=overrides)
    app = LanyardFlask(
        __name__,
        template_folder=str(TEMPLATE_FOLDER),
        static_folder=str(ROOT / "registration" / "static"),
    )
    app.extensions["lanyard"] = settings
    app.json = _JSONProvider(app)
    app.url_map.converters["int"] = _DatabaseInt
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        BABEL_DEFAULT_LOCALE="en",
        # Every time shown to a person is in the event's zone (the venue's clocks); Flask-Babel converts to it.
        BABEL_DEFAULT_TIMEZONE=settings.event.timezone,
        BABEL_TRANSLATION_DIRECTORIES=";".join(
            str(ROOT / package / "translations") for package in ("registration", "kiosk")
        ),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        WTF_CSRF_TIME_LIMIT=None,  # a kiosk or desk page may stay open all day
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind N proxies the client is the address the outermost trusted proxy saw (sign-in limits use it).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies,
                                x_host=settings.trusted_proxies)
    _private_sqlite_file(settings.database_url)
    db.init_app(app)
    if settings.database_url.startswith("sqlite"):
        with app.app_context():
            sa.event.listen(db.engine, "connect", _sqlite_pragmas(settings.sqlite_synchronous))
    from . import storage

    storage.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_FOLDER))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)

    from . import models  # noqa: F401  (register the tables)
    from .checkin import models as _checkin_models  # noqa: F401
    from .printing import models as _printing_models  # noqa: F401
    from .desk import models as _desk_models  # noqa: F401
    from .door import models as _door_models  # noqa: F401

    _register_blueprints(app)
    from . import cli

    cli.init_app(app)
    from kiosk import cli as kiosk_cli

    kiosk_cli.init_app(app)

    @app.before_request
    def _remembercurrent_settings():
        g.settings = settings
        if request.args.get("lang") in settings.languages:
            session["lang"] = request.args["lang"]

    @app.context_processor
    def _globals():
        return {"settings": settings, "event_settings": settings.event, "get_locale": get_locale,
                "language_url": _language_url}

    # Pages link the icon; a browser (or a page that links none, such as a JSON answer) still asks for
    # /favicon.ico, and a 404 there is an error in every console.
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    app.after_request(_security_headers)
    for status in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(status, _error_page)
    return app


def _favicon():
    """The site's icon, for browsers that ask for ``/favicon.ico`` whatever the page links."""
    # Read whole (a few hundred bytes), not streamed from an open file.
    response = current_app.response_class((Path(current_app.static_folder) / "favicon.svg").read_bytes(),
                                          mimetype="image/svg+xml")
    response.cache_control.max_age = 86400
    return response


def _language_url(language: str) -> str:
    """This page in another language: a page shown in answer to a form links to the page the form is on
    (``g.page_url``, or its own address when that also answers GET), never to an address only a form can post to."""
    path = request.path
    if request.method != "GET":
        rule_methods = request.url_rule.methods if request.url_rule is not None else set()
        path = g.get("page_url") or (path if "GET" in rule_methods else "/")
    return f"{path}?lang={language}"


class _JSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a body nested too deep to parse is bad JSON (400), not a RecursionError (500)."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class _DatabaseInt(IntegerConverter):
    """``<int:…>`` in URLs: ids are INTEGER columns (32-bit on PostgreSQL), so a larger one cannot exist and
    matches nothing (404) instead of overflowing the database driver (500)."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _register_blueprints(app: Flask) -> None:
    """Every blueprint, in one list; the only place the kiosk blueprint is wired in."""
    from kiosk import api as kiosk_api, views as kiosk_views

    from . import auth, views
    from .desk import api as desk_api, views as desk_views
    from .door import api as door_api, views as door_views

    app.register_blueprint(views.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(kiosk_views.bp)
    app.register_blueprint(kiosk_api.bp)
    app.register_blueprint(desk_views.bp)
    app.register_blueprint(desk_views.admin_bp)
    app.register_blueprint(desk_api.bp)
    app.register_blueprint(door_views.bp)
    app.register_blueprint(door_api.bp)
    auth.init_app(app)


def _security_headers(response):
    """Headers every page gets: no framing, no sniffing, no referrer (private links stay private)."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; object-src 'none'; "
        "media-src 'self' blob:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if g.get("staff") is not None:  # every page a signed-in staff user sees may show personal data
        response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


#: API error codes for failures that happen before a view runs.
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "too_large", 429: "rate_limited", 500: "server_error"}


def _error_page(error):
    """One error page for every status; the API blueprints return JSON themselves."""
    status = getattr(error, "code", 500) or 500
    if request.path.startswith("/api/"):
        from .api import error_response

        from flask_wtf.csrf import CSRFError

        code = "csrf_failed" if isinstance(error, CSRFError) else HTTP_CODES.get(status, "server_error")
        return error_response(code, getattr(error, "description", "") or str(error), status)
    titles = {400: gettext("Bad request"), 403: gettext("Not allowed"), 404: gettext("Not found"),
              405: gettext("Not allowed"), 413: gettext("Too large"), 429: gettext("Too many attempts"),
              500: gettext("Something went wrong")}
    return render_template("error.html", status=status, title=titles.get(status) or gettext("Error")), status
