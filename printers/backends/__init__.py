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
    if kind is int and key != "port" and value < 0:
        raise PrinterConfigError(f"printers.{name}.{key}: must not be negative")
    if key == "port" and not 0 < value < 65536:
        raise PrinterConfigError(f"printers.{name}.port: must be 1-65535")
    return value


def make_printer(name: str, options: dict) -> BadgePrinter:
    """Build the printer ``name`` from its options (the ``[printers.NAME]`` table).

    :raise PrinterConfigError: unknown backend, missing or mistyped option, unknown profile.
    """
    if not isinstance(options, dict):
        raise PrinterConfigError(f"printers.{name}: expected a table of options")
    backend = options.get("backend")
    if backend not in BACKENDS:
        raise PrinterConfigError(f"printers.{name}.backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    loader, required, optional = BACKENDS[backend]
    kwargs = {}
    for key, kind in required.items():
        if key not in options:
            raise PrinterConfigError(f"printers.{name}.{key}: missing (needed by the {backend} backend)")
        kwargs[key] = _checked(name, key, options[key], kind)
    for key, kind in optional.items():
        if key in options:
            kwargs[key] = _checked(name, key, options[key], kind)
    # Keys of other backends or of the print queue (fallback, hold_seconds, ...) are not ours to judge.
    profile = _checked(name, "profile", options.get("profile", DEFAULT_PROFILE), str)
    connect_timeout = _checked(name, "connect_timeout", options.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
                               float)
    io_timeout = _checked(name, "io_timeout", options.get("io_timeout", DEFAULT_IO_TIMEOUT), float)
    try:
        width = profile_width(profile)
    except PrinterConfigError as exc:
        raise PrinterConfigError(f"printers.{name}.profile: {exc}") from None
    return loader()(name, profile=profile, width=width, connect_timeout=connect_timeout,
                    io_timeout=io_timeout, **kwargs)
