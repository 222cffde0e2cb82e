"""The kiosk mode: touch-screen check-in pages, the kiosk API, device enrolment."""
