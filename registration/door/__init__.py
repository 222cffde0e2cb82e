"""Doors: access areas, door scans with their reasons, live occupancy, the offline copy and its conflicts."""
