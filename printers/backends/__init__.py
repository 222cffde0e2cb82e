"""Backends by name, and ``make_printer`` that builds one from a ``[printers.NAME]`` table."""

from __future__ import annotations

import math
from collections.abc import Callable

from ..errors import PrinterConfigError
from ..printer import DEFAULT_CONNECT_TIMEOUT, DEFAULT_IO_TIMEOUT, DEFAULT_PROFILE, BadgePrinter


def _network():
    from .network import NetworkPrinter
    return NetworkPrinter


def _usb():
    from .usb import UsbPrinter
    return UsbPrinter


def _serial():
    from .serial import SerialPrinter
    return SerialPrinter


def _file():
    from .file import FilePrinter
    return FilePrinter


def _preview():
    from .preview import PreviewPrinter
    return PreviewPrinter


#: backend name -> (class loader, required options -> type, optional options -> type)
BACKENDS: dict[str, tuple[Callable[[], type], dict[str, type], dict[str, type]]] = {
    "network": (_network, {"host": str}, {"port": int}),
    "usb": (_usb, {"vendor_id": int, "product_id": int}, {"in_ep": int, "out_ep": int}),
    "serial": (_serial, {"devfile": str}, {"baudrate": int}),
    "file": (_file, {"path": str}, {}),
    "preview": (_preview, {"directory": str}, {}),
}
#: Options every backend accepts.
COMMON = {"backend": str, "profile": str, "connect_timeout": float, "io_timeout": float}
#: Every backend's options with their types: one given to another backend must still be well typed (a
#: ``port = "9100"`` is a typo wherever it stands, and stops startup instead of lying in wait).
KNOWN = {key: kind for _loader, required, optional in BACKENDS.values() for key, kind in {**required, **optional}.items()}


def profile_width(profile: str) -> int:
    """The head width in dots from the python-escpos profile.

    :raise PrinterConfigError: unknown profile, or one that does not know its width.
    """
    from escpos.capabilities import get_profile

    try:
        data = get_profile(profile).profile_data
    except Exception as exc:  # python-escpos raises KeyError (or its own NotSupported) for unknown names
        raise PrinterConfigError(f"unknown printer profile {profile!r}") from exc
    try:
        return int(data["media"]["width"]["pixels"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PrinterConfigError(f"printer profile {profile!r} does not give its width in dots") from exc


def _checked(name: str, key: str, value, kind: type):
    """``value`` as ``kind``, or PrinterConfigError naming the option."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise PrinterConfigError(f"printers.{name}.{key}: expected {kind.__name__}, got {value!r}")
    if kind is str and not value.strip():
        raise PrinterConfigError(f"printers.{name}.{key}: must not be empty")
    if kind is float and not (math.isfinite(value) and value > 0):
        raise PrinterConfigError(f"printers.{name}.{key}: must be a positive number of seconds")
    if kind is int and key == "baudrate" and value <= 0:
        raise PrinterConfigError(f"printers.{name}.baudrate: must be positive")
    if kind is int and key != "port" and value < 0:
        raise PrinterConfigError(f"printers.{name}.{key}: must not be negative")
    if key == "port" and not 0 < value < 65536:
        raise PrinterConfigError(f"printers.{name}.port: must be 1-65535")
    return value


def checked_options(name: str, options: dict) -> dict:
    """The printer ``name``'s options (the ``[printers.NAME]`` table) with every option a backend reads checked
    and typed (whole seconds become floats); the one rule for them, which the application's settings use too.

    Keys of other backends are checked for their type too; the caller's keys (a print queue's fallback,
    hold_seconds, ...) are not ours to judge: they are returned as they are.

    :raise PrinterConfigError: not a table, unknown backend, missing or mistyped option, unknown profile
        (the message names the option as ``printers.NAME.KEY``).
    """
    return _backend_options(name, options)[1]


def _backend_options(name: str, options: dict) -> tuple[dict, dict]:
    """The backend's own keyword arguments, and all of ``options`` with the backend's keys checked and typed.

    :raise PrinterConfigError: as :func:`checked_options`.
    """
    if not isinstance(options, dict):
        raise PrinterConfigError(f"printers.{name}: expected a table of options")
    backend = options.get("backend")
    if backend not in BACKENDS:
        raise PrinterConfigError(f"printers.{name}.backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    _loader, required, optional = BACKENDS[backend]
    kwargs = {}
    for key, kind in required.items():
        if key not in options:
            raise PrinterConfigError(f"printers.{name}.{key}: missing (needed by the {backend} backend)")
        kwargs[key] = _checked(name, key, options[key], kind)
    for key, kind in optional.items():
        if key in options:
            kwargs[key] = _checked(name, key, options[key], kind)
    others = {key: _checked(name, key, options[key], kind) for key, kind in KNOWN.items()
              if key in options and key not in kwargs}
    common = {
        "profile": _checked(name, "profile", options.get("profile", DEFAULT_PROFILE), str),
        "connect_timeout": _checked(name, "connect_timeout", options.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
                                    float),
        "io_timeout": _checked(name, "io_timeout", options.get("io_timeout", DEFAULT_IO_TIMEOUT), float),
    }
    try:
        profile_width(common["profile"])
    except PrinterConfigError as exc:
        raise PrinterConfigError(f"printers.{name}.profile: {exc}") from None
    typed = dict(options)
    typed.update(others)
    typed.update(kwargs)
    typed.update({key: common[key] for key in common if key in options})  # defaults stay defaults
    return kwargs, typed


def make_printer(name: str, options: dict) -> BadgePrinter:
    """Build the printer ``name`` from its options (the ``[printers.NAME]`` table).

    :raise PrinterConfigError: unknown backend, missing or mistyped option, unknown profile.
    """
    kwargs, typed = _backend_options(name, options)
    profile = typed.get("profile", DEFAULT_PROFILE)
    return BACKENDS[typed["backend"]][0]()(
        name, profile=profile, width=profile_width(profile),
        connect_timeout=typed.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
        io_timeout=typed.get("io_timeout", DEFAULT_IO_TIMEOUT), **kwargs)
