"""The public registration page under load: GET the form, POST it (CSRF included), through gunicorn.

Usage: python benchmarks/bench_registration.py [--clients 16] [--per-client 40] [--database-url URL]
"""

from __future__ import annotations

import argparse
import http.client
import re
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import database, gunicorn, percentiles, write_config  # noqa: E402

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def client_loop(host, port, client_id, count, get_ms, post_ms, failures):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    cookie = ""
    for n in range(count):
        started = time.perf_counter()
        conn.request("GET", "/register", headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        html = response.read().decode()
        get_ms.append((time.perf_counter() - started) * 1000)
        cookie = (response.getheader("Set-Cookie") or cookie).split(";", 1)[0] or cookie
        token = TOKEN.search(html).group(1)
        body = urllib.parse.urlencode({
            "csrf_token": token, "first_name": "Bench", "last_name": f"Client{client_id}",
            "email": f"bench{client_id}-{n}@example.org", "organization": "City of Davis",
            "health_method": "vaccinated", "submit": "Register",
        })
        started = time.perf_counter()
        conn.request("POST", "/register", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        response = conn.getresponse()
        response.read()
        post_ms.append((time.perf_counter() - started) * 1000)
        if response.status != 303:  # success redirects to the confirmation page
            failures.append(response.status)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=40)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)

    from registration.app import create_app

    with database(args.database_url) as (folder, url):
        config = write_config(folder, url)
        # Every benchmark client is on loopback: one client address, far past the per-client limit.
        config.write_text(config.read_text(encoding="utf-8").replace(
            "registrations_per_client = 30", "registrations_per_client = 1000000"), encoding="utf-8")
        app = create_app(config)
        assert app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
        with app.app_context():
            from registration.extensions import db

            db.engine.dispose()
        with gunicorn(config) as (host, port):
            get_ms, post_ms, failures = [], [], []
            threads = [threading.Thread(target=client_loop, args=(host, port, i, args.per_client, get_ms, post_ms,
                                                                  failures)) for i in range(args.clients)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        total = args.clients * args.per_client
        print(f"registration page on {url.split(':', 1)[0]}, {args.clients} concurrent clients, {total} registrations "
              f"in {elapsed:.1f} s = {total / elapsed:.0f} registrations/s, failures {len(failures)}")
        print(f"  GET /register : {percentiles(get_ms)}")
        print(f"  POST /register: {percentiles(post_ms)} (includes writing the confirmation email)")


if __name__ == "__main__":
    main()
