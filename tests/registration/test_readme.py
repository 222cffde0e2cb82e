"""The README is kept true by tests: every `lanyard` command and every kiosk API reason is documented."""

from pathlib import Path

import click
from flask.cli import ScriptInfo

import re

from registration.checkin.services import REASONS
from registration.errors import CODES
from registration.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _commands(group: click.Group, ctx: click.Context, prefix: str = "lanyard"):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        yield f"{prefix} {name}"
        if isinstance(command, click.Group) and name not in ("db",):  # Flask-Migrate documents its own
            yield from _commands(command, ctx, f"{prefix} {name}")


def test_every_lanyard_command_is_in_the_readme(app):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ctx = click.Context(main, obj=ScriptInfo(create_app=lambda: app))
    commands = {c for c in _commands(main, ctx) if c not in ("lanyard shell", "lanyard routes")}
    assert {"lanyard kiosk add", "lanyard print-worker", "lanyard demo", "lanyard import"} <= commands
    # Subcommands are listed as "`lanyard kiosk list` / `disable NAME`": the last word must appear.
    missing = sorted(c for c in commands
                     if f"`{c}" not in readme and f"`{c.rsplit(' ', 1)[-1]} " not in readme
                     and f"`{c.rsplit(' ', 1)[-1]}`" not in readme)
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_kiosk_reason_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    reasons = {r for values in REASONS.values() for r in values if r}
    missing = sorted(r for r in reasons | set(REASONS) if f"`{r}`" not in readme)
    assert not missing, f"kiosk API results/reasons missing from README.md: {missing}"


def test_every_staff_api_endpoint_is_in_the_readme(app):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    endpoints = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("desk_api."):
            path = re.sub(r"<(?:int:)?\w+>", "ID", rule.rule)
            endpoints |= {f"`{method} {path}" for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert len(endpoints) >= 10
    missing = sorted(e for e in endpoints if e not in readme)
    assert not missing, f"staff API endpoints missing from README.md: {missing}"


def test_every_refusal_code_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = sorted(code for code in CODES if f"`{code}`" not in readme)
    assert not missing, f"refusal codes missing from README.md: {missing}"
