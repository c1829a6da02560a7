"""Filling forms in Web Forms as a person does, and reading back what the server stored."""

from __future__ import annotations

import io
import re

from tests.webforms.conftest import Phone, Site


def fill_site_check(phone: Phone, village: str, *, water: str = "No", households: int = 12) -> None:
    """Answer the site check's required questions (tests/webforms/forms.py)."""
    phone.question("Village").locator("input").fill(village)
    phone.question("Is there clean water?").get_by_label(water, exact=True).check()
    type_number(phone, "Households", households)


def type_number(phone: Phone, label: str, value: int) -> None:
    """Type a number as a person does: PrimeVue's number input listens to keys, not to fill()."""
    field = phone.question(label).locator("input")
    field.click()
    field.press("Control+A")
    field.press_sequentially(str(value))
    field.blur()


def attach_photo(phone: Phone, label: str, data: bytes, name: str = "camera.jpg") -> None:
    """Choose a JPEG for an image question and wait for Web Forms to show it."""
    question = phone.question(label)
    chooser = question.locator("input[type=file]:not([capture])")
    chooser.set_input_files({"name": name, "mimeType": "image/jpeg", "buffer": data})
    question.locator("img").wait_for()


def send(phone: Phone) -> None:
    """Press Send and wait until the form starts afresh (the answers are in the outbox)."""
    phone.page.get_by_role("button", name="Send", exact=True).click()
    phone.page.wait_for_function(
        "() => [...document.querySelectorAll('.question-container input[type=text]')]"
        ".every(i => i.value === '')"
    )


def size_of(data: bytes) -> tuple[int, int]:
    """An image's width and height."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


def stored_answer(site: Site, pid: int, fid: str, instance_id: str, name: str) -> str:
    """One answer of a stored submission, read from its XML as the server keeps it."""
    xml = site.get(f"/v1/projects/{pid}/forms/{fid}/submissions/{instance_id}.xml").decode()
    found = re.search(rf"<{name}>(.*?)</{name}>", xml)
    assert found, xml
    return found.group(1)
