"""Check-in: kiosks, the one-per-registration check-in, desk cases and door scans."""
