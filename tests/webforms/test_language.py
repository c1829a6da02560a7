"""The form opens in its reader's language; the page's own rules, run in Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from tests.webforms.conftest import Phone, Site

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def form(site: Site) -> tuple[int, str]:
    return site.site_check("Languages")


@pytest.mark.parametrize(
    ("locale", "query", "label"),
    [
        ("en-US", "", "Is there clean water?"),
        ("fr-FR", "", "Eau potable ?"),
        ("fr-FR", "?lang=en", "Is there clean water?"),
        ("de-DE", "?lang=French%20(fr)", "Eau potable ?"),
        ("de-DE", "", "Is there clean water?"),
    ],
)
def test_the_form_opens_in_the_wished_language(
    phones: Any, site: Site, form: tuple[int, str], locale: str, query: str, label: str
) -> None:
    pid, fid = form
    phone: Phone = phones(locale=locale)
    phone.preview(pid, fid, query)
    phone.page.get_by_text(label, exact=True).wait_for()
    assert phone.problems == []


def test_the_language_menu_switches_the_labels(phone: Phone, form: tuple[int, str]) -> None:
    pid, fid = form
    phone.preview(pid, fid)
    phone.page.get_by_label("change language").filter(visible=True).click()
    phone.page.get_by_role("option", name="French (fr)").click()
    phone.page.get_by_text("Eau potable ?", exact=True).wait_for()


NAMES = ["English (en)", "French (fr)", "Português (pt-BR)"]


@pytest.mark.parametrize(
    ("wishes", "chosen"),
    [
        (["fr"], "French (fr)"),
        (["fr-CA", "en"], "French (fr)"),
        (["French (fr)"], "French (fr)"),
        (["de-DE", "pt-PT"], "Português (pt-BR)"),
        (["pt-br"], "Português (pt-BR)"),
        ([None, "en-GB"], "English (en)"),
        (["de", "ar"], None),
    ],
)
def test_choose_language(page_module: Any, wishes: list[Any], chosen: Any) -> None:
    assert page_module("chooseLanguage", NAMES, wishes) == chosen
