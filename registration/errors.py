"""The one refusal type raised by Lanyard's domain services."""

#: Every code a service may raise, with what it means. Closed list: tests and clients rely on it.
CODES: dict[str, str] = {
    # codes
    "code_malformed": "The code is not a Lanyard code (wrong length, characters or prefix).",
    "code_unknown": "The code is well formed but matches nothing (mistyped or forged).",
    "code_superseded": "The code was replaced by a newer one (confirmation re-sent).",
    "wrong_code_kind": "A badge code was used where the registration code is needed, or the reverse.",
    "wrong_event": "The code belongs to another event.",
    # registrations
    "registration_cancelled": "The registration was cancelled.",
    "duplicate_email": "This email is already registered for the event.",
    "invalid_field": "A field failed validation.",
    "unknown_type": "The registration type is not defined for the event.",
    "host_required": "A guest registration needs a full registrant as host.",
    "host_invalid": "The host is missing, cancelled or not a full registrant.",
    "not_found": "The record does not exist.",
    # health
    "health_missing": "No health record: see the health verification desk.",
    "health_unverified": "Health status is attested but not yet verified at the desk.",
    "health_expired": "The negative test is too old under the event's policy.",
    "health_rejected": "The health proof was rejected.",
    "health_purged": "Health data was purged after the event.",
    "health_not_cleared": "Not cleared under the event's health policy: see the health verification desk "
                          "(what a kiosk is told; the desk case carries the exact reason).",
    # check-in, badges, printing
    "already_checked_in": "The badge was already collected.",
    "not_checked_in": "The person has not collected a badge yet.",
    "badge_void": "The badge was voided (lost badge reprinted, or registration cancelled).",
    "area_denied": "The pass does not open this area.",
    "unknown_area": "The area is not defined for the event.",
    "area_closed": "The area is closed now (outside its opening windows).",
    "area_full": "The area is full (its capacity is reached).",
    "already_inside": "The badge is already inside this area, which has no re-entry (scan out first).",
    "printer_unknown": "No printer with that name is configured.",
    "job_not_retryable": "The print job is not in a state that can be retried.",
    "print_failed": "The badge could not be printed; the desk will print it.",
    "print_unconfirmed": "The printer took the badge but did not confirm it printed; staff decide whether to reprint.",
    "printer_offline": "The printer does not answer.",
    "paper_out": "The printer is out of paper.",
    "cover_open": "The printer's cover is open.",
    "status_unknown": "The printer did not report its status.",
    "no_match": "Nobody matches that name and second factor.",
    "selection_invalid": "The name-lookup selection is unknown, expired or from another kiosk.",
    "nonce_invalid": "The request's nonce is missing or malformed.",
    "nonce_reused": "The nonce was already used for a different request (a retry must repeat the same request).",
    "reason_required": "A reason must be given.",
    "badge_in_queue": "The current badge is still on its way to the printer; wait for it, or cancel or reroute "
                      "its print job, before printing another.",
    "not_guest": "Only a guest pass can be upgraded to a full pass.",
    "case_closed": "The desk case is already resolved.",
    # devices and staff
    "kiosk_disabled": "The kiosk is disabled.",
    "kiosk_unknown": "No kiosk with that name or token.",
    "kiosk_exists": "A kiosk with that name already exists.",
    "enrolment_invalid": "The enrolment link is unknown, used or expired.",
    "staff_exists": "A staff user with that email already exists.",
    "role_unknown": "The role is not one of registrar, door, admin.",
    "rate_limited": "Too many attempts; wait a moment.",
    # storage
    "storage_unavailable": "The database cannot be written just now (read-only, full or unreachable); the request "
                           "was not completed. Try again shortly; a kiosk sends the person to the desk.",
    # import
    "import_invalid": "The import file has bad rows; nothing was imported.",
}


class LanyardError(Exception):
    """A refusal by a domain service: a stable ``code`` from :data:`CODES` plus detail."""

    def __init__(self, code: str, detail: str = "", **extra):
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}")
        self.code = code
        self.detail = detail or CODES[code]
        self.extra = extra
        super().__init__(f"{code}: {self.detail}")
