"""Web layer: one blueprint per kind of client (OpenRosa, JSON API, pages)."""
