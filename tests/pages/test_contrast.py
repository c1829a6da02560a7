"""WCAG 2.1 AA contrast of the stylesheet's colours: every text colour on its background >= 4.5."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "collect" / "static" / "collect.css"
PAGE_BACKGROUND = "#ffffff"
BODY_TEXT = "#1b1b1b"
RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
HEX = r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b"


def _hex(value: str) -> str:
    value = value.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return "#" + value.lower()


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(_hex(a)), _luminance(_hex(b))), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _declared(body: str, prop: str) -> str | None:
    match = re.search(rf"(?:^|;|\s){prop}\s*:\s*[^;]*?{HEX}", body)
    return _hex(match.group(1)) if match else None


def pairs() -> list[tuple[str, str, str]]:
    """(selector, text colour, background) for every rule that sets a colour.

    What a rule leaves out comes from where it sits: the header's dark bar, a button's own
    colours (the `button, .button` rule), or the page.
    """
    rules = [(sel.strip(), body) for sel, body in RULE.findall(CSS.read_text())]
    button = next(body for sel, body in rules if sel.startswith("button, .button"))
    button_text, button_background = _declared(button, "color"), _declared(button, "background")
    found = []
    for selector, body in rules:
        text = _declared(body, "color")
        background = _declared(body, "background(?:-color)?")
        if text is None and background is None:
            continue
        if "header.site" in selector and background is None:
            background = "#1f2937"  # the header's own background
        if "button" in selector:
            text = text or button_text
            background = background or button_background
        found.append((selector, text or BODY_TEXT, background or PAGE_BACKGROUND))
    return found


def test_the_stylesheet_declares_colours() -> None:
    assert len(pairs()) >= 10


@pytest.mark.parametrize(("selector", "text", "background"), pairs())
def test_text_contrast_is_at_least_aa(selector: str, text: str, background: str) -> None:
    assert contrast(text, background) >= 4.5, f"{selector}: {text} on {background}"


def test_contrast_formula() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert contrast("#777777", "#ffffff") < 4.5
