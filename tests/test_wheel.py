"""The wheel carries everything Lanyard needs: installed outside the source tree, it initialises and serves.

Built once per run (the SQLite pass): pip builds the wheel from a copy of the tree, installs it with no
dependencies into a fresh virtual environment whose only link to the test environment is a ``.pth`` line
naming its site-packages (so Flask, gunicorn and the rest come from there, Lanyard from the wheel), and the
installed ``lanyard`` command and gunicorn run in a folder holding nothing but a ``config.toml``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import BACKEND, BASE_CONFIG
from tests.helpers import qr_in_message, read_outbox

SOURCE = Path(__file__).resolve().parents[1]
PEOPLE = ("first_name,last_name,badge_name,email,title,organization,registration_type,host_email,"
          "health_method,health_state,test_taken_at\n"
          "Ada,Lovelace,,ada@example.org,Mayor,City of Davis,full,,vaccinated,verified,\n")
PRINTER = """
[printers.front]
backend = "preview"
directory = "badges"
"""

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="the wheel is built and tried once, in the SQLite pass")


def _run(command: list, *, cwd: Path, env: dict | None = None, input: str | None = None) -> str:
    """Run a command; fail the test with its output when it fails."""
    done = subprocess.run(command, cwd=cwd, env=env, input=input, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtual environment with the wheel built from this tree installed in it; returns its bin folder."""
    work = tmp_path_factory.mktemp("wheel")
    tree = work / "tree"
    shutil.copytree(SOURCE, tree, ignore=shutil.ignore_patterns(
        ".git", ".venv", "tests", "benchmarks", "build", "dist", "var", "*.egg-info", "__pycache__",
        ".pytest_cache"))
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "--wheel-dir", str(work / "dist"), str(tree)], cwd=work)
    (wheel,) = (work / "dist").glob("lanyard-*.whl")
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work)
    python = venv / "bin" / "python"
    site_packages = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                              cwd=work).strip())
    # A plain path line: the test environment's own .pth files (its editable Lanyard) are not processed.
    (site_packages / "test-environment.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
          "--no-index", str(wheel)], cwd=work)
    return venv / "bin"


@pytest.fixture
def site(tmp_path) -> Path:
    """An operator's folder outside the source tree: a config.toml and a CSV to import."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "config.toml").write_text(BASE_CONFIG.format(
        database_url="sqlite:///lanyard.db", mail='outbox = "outbox"', printers=PRINTER), encoding="utf-8")
    (folder / "people.csv").write_text(PEOPLE, encoding="utf-8")
    return folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, *, data: dict | None = None, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def serve(installed, site):
    """Factory: run the installed app under gunicorn in the site folder; returns its base URL."""
    processes = []

    def start(env: dict) -> str:
        port = _free_port()
        log = site / "gunicorn.log"
        with log.open("w") as output:
            process = subprocess.Popen([str(installed / "python"), "-m", "gunicorn", "--workers", "1",
                                        "--bind", f"127.0.0.1:{port}", "registration.wsgi:app"],
                                       cwd=site, env=env, stdout=output, stderr=subprocess.STDOUT)
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                _request(f"{base}/register")
                return base
            except OSError:  # not listening yet
                time.sleep(0.1)
        raise AssertionError("gunicorn did not answer within 30 s")

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_the_installed_wheel_initialises_and_serves_registration_and_a_kiosk_check_in(installed, site, serve):
    env = {key: value for key, value in os.environ.items() if not key.startswith("LANYARD_")}
    lanyard = str(installed / "lanyard")
    where = _run([str(installed / "python"), "-c", "import registration, kiosk, printers; "
                  "print(registration.__file__, kiosk.__file__, printers.__file__)"], cwd=site, env=env)
    assert all(path.startswith(str(installed.parent)) for path in where.split()), where

    assert "Database ready" in _run([lanyard, "init-db"], cwd=site, env=env)
    added = _run([lanyard, "kiosk", "add", "lobby", "--printer", "front"], cwd=site, env=env)
    token = next(line.rsplit(" ", 1)[1] for line in added.splitlines() if line.startswith("API token"))
    assert "Imported 1 registration (1 full, 0 guests)" in _run([lanyard, "import", "people.csv", "--send-confirmations"],
                                              cwd=site, env=env)
    (message,) = read_outbox(site / "outbox")
    code = qr_in_message(message)

    base = serve(env)
    status, page = _request(f"{base}/register")
    assert status == 200 and "Annual Conference and Expo" in page
    status, page = _request(f"{base}/register?lang=es")
    assert status == 200 and 'lang="es"' in page and "Apellido" in page
    assert _request(f"{base}/static/style.css")[0] == 200
    assert _request(f"{base}/kiosk/static/kiosk.js")[0] == 200
    status, body = _request(f"{base}/api/v1/checkins", data={"code": code, "nonce": uuid.uuid4().hex}, token=token)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["result"] == "checked_in" and answer["attendee"]["badge_name"].startswith("Ada")

    _run([lanyard, "print-worker", "--once"], cwd=site, env=env)  # renders with the wheel's fonts
    assert list((site / "badges").glob("*.png"))
