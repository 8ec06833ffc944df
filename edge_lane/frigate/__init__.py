"""Frigate NVR as an arrival source: its licence-plate reads become v1 arrivals of a lane."""
