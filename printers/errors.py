"""The printers' own exception family: every failure carries a stable ``code`` and whether job bytes went out."""

from __future__ import annotations


class PrinterError(Exception):
    """A printer could not do what was asked; ``code`` is stable, ``sent`` says whether job bytes went out."""

    code = "printer_error"

    def __init__(self, message: str = "", *, sent: bool = False) -> None:
        super().__init__(message or self.code.replace("_", " "))
        #: True once any byte of the job body went out: the badge may have printed, so a retry could double it.
        self.sent = sent


class PrinterOffline(PrinterError):
    """The printer cannot be reached or reports itself offline."""

    code = "printer_offline"


class PaperOut(PrinterError):
    """The printer reports that its paper roll has run out."""

    code = "paper_out"


class CoverOpen(PrinterError):
    """The printer reports that its cover is open."""

    code = "cover_open"


class StatusUnknown(PrinterError):
    """The printer did not answer a status query: never taken as "ready"."""

    code = "status_unknown"


class PrintNotConfirmed(PrinterError):
    """The job went out but the printer did not confirm it printed."""

    code = "print_unconfirmed"

    def __init__(self, message: str = "", *, sent: bool = True) -> None:
        super().__init__(message, sent=sent)


class PrinterConfigError(PrinterError):
    """The printer's options are wrong (unknown backend, missing host, bad profile, ...)."""

    code = "printer_config"


#: Every code a PrinterError can carry (the closed list the queue stores).
CODES = tuple(cls.code for cls in (PrinterOffline, PaperOut, CoverOpen, StatusUnknown, PrintNotConfirmed,
                                   PrinterConfigError))
