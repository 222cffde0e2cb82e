"""WSGI entry point for gunicorn: ``gunicorn registration.wsgi:app`` (reads LANYARD_CONFIG)."""

from .app import create_app

app = create_app()
