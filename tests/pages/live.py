"""Headless Chromium to drive a live `collect serve` (tests/live.py)."""

from __future__ import annotations

from pathlib import Path

from tests.live import ADMIN, Server, serve

__all__ = ["ADMIN", "CHROMIUM", "CHROMIUM_ARGS", "SCREENSHOTS", "Server", "serve"]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
