"""Realistic demo data: city officials, their guests, and a mix of health states."""

from __future__ import annotations

import random
from datetime import timedelta

from .audit import Actor
from .models import Event, utcnow
from .services import HealthInput, Issued, PersonInput, register
from .settings import Settings
from .text import fold

FIRST = ["María", "José", "Jennifer", "Michael", "Linh", "Nguyen", "Aisha", "David", "Sofía", "Robert", "Priya",
         "James", "Mei", "Carlos", "Patricia", "Kwame", "Olga", "Dmitri", "Eleni", "Juan", "Fatima", "Thomas",
         "Hannah", "Ángel", "Zoë", "Björn", "Chloé", "Raúl", "Keiko", "Samuel", "Grace", "Luis", "Amara",
         "Giorgos", "Ingrid", "Tevita", "Manuel", "Nadia", "Ethan", "Yolanda"]
LAST = ["García", "Smith", "Nguyen", "Johnson", "Hernández", "Patel", "Williams", "Kim", "López", "Brown",
        "Martínez", "Okafor", "Chen", "Rodríguez", "Davis", "Papadopoulos", "Ivanova", "Müller", "O'Brien",
        "Wilson", "Tanaka", "Núñez", "Anderson", "Schröder", "Jackson", "Fonoti", "Singh", "Ramírez",
        "Thompson", "Moreno", "Lee", "Cohen", "Álvarez", "Washington", "Kowalski", "Haddad", "Fitzgerald-Montgomery",
        "Zúñiga", "O'Neill", "Παπαδόπουλος", "De la Cruz"]
TITLES = ["Mayor", "Vice Mayor", "Council Member", "City Manager", "City Clerk", "Finance Director",
          "Public Works Director", "Police Chief", "Fire Chief", "City Attorney", "Planning Commissioner",
          "Assistant City Manager", "Community Development Director", "Parks and Recreation Director"]
CITIES = ["Sacramento", "Fresno", "San José", "Oakland", "Bakersfield", "Anaheim", "Santa Ana", "Riverside",
          "Stockton", "Chula Vista", "Modesto", "Oxnard", "Fontana", "Elk Grove", "Santa Rosa", "Salinas",
          "Visalia", "Vallejo", "Berkeley", "El Cajón", "Davis", "Paso Robles", "San Luis Obispo", "Chico",
          "Redding", "Eureka", "La Cañada Flintridge", "Rancho Palos Verdes", "Los Ángeles"]


def _ascii(text: str) -> str:
    """Letters of ``text`` usable in a demo email address (accents dropped; other scripts drop out)."""
    return "".join(c for c in fold(text) if c.isascii() and c.isalnum())


def _health(rng: random.Random) -> HealthInput | None:
    """A realistic spread: most verified vaccinated, some attested only, some tests, a few with nothing."""
    now = utcnow()
    roll = rng.random()
    if roll < 0.62:
        return HealthInput("vaccinated", "verified")
    if roll < 0.77:
        return HealthInput("vaccinated", "attested")
    if roll < 0.87:
        return HealthInput("negative_test", "verified", now - timedelta(hours=rng.randint(2, 48)))
    if roll < 0.91:
        return HealthInput("negative_test", "verified", now - timedelta(hours=rng.randint(80, 120)))
    if roll < 0.95:
        return HealthInput("onsite_test", "attested")
    return None


def seed_demo(event: Event, *, settings: Settings, count: int, seed: int = 2027) -> list[Issued]:
    """Register about ``count`` people (full registrants, ~15% bringing a guest); returns them with codes."""
    rng = random.Random(seed)
    actor = Actor.system("demo")
    full_type, guest_type = settings.full_types[0], (settings.guest_types or [None])[0]
    issued: list[Issued] = []
    n = 0
    while len(issued) < count:
        n += 1
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city = rng.choice(CITIES)
        local = ".".join(part for part in (_ascii(first), _ascii(last)) if part) or "attendee"
        email = f"{local}.{n}@{_ascii(city)}.example.gov"
        guests = []
        if guest_type and rng.random() < 0.15:
            guests.append((PersonInput(first_name=rng.choice(FIRST), last_name=last, email="", type_name=guest_type),
                           _health(rng)))
        issued += register(
            event,
            PersonInput(first_name=first, last_name=last, email=email, type_name=full_type,
                        title=rng.choice(TITLES), organization=f"City of {city}",
                        badge_name=f"{first} {last}" if rng.random() < 0.9 else first),
            settings=settings, actor=actor, health=_health(rng), guests=guests, source="demo",
        )
    return issued
