"""Lanyard's registration service: app factory, models, domain services, pages, API and CLI."""
