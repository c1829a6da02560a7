"""A small bilingual form for the web-form tests: every kind of question the page must handle."""

from __future__ import annotations

import io

from tests.workbooks import xlsx

EN = "English (en)"
FR = "French (fr)"
FORM_ID = "site_check"
MAX_PIXELS = 1024


def site_check(*, form_id: str = FORM_ID, public_key: str | None = None) -> bytes:
    """A village, a yes/no, a bounded count, a question shown only after "yes", a photo, a logo."""
    settings_header: tuple[str, ...] = ("form_id", "form_title", "version", "default_language")
    settings_row: tuple[str, ...] = (form_id, "Site check", "1", EN)
    if public_key:
        settings_header += ("public_key",)
        settings_row += (public_key,)
    return xlsx(
        [
            (
                "type",
                "name",
                f"label::{EN}",
                f"label::{FR}",
                "required",
                "relevant",
                "constraint",
                f"constraint_message::{EN}",
                f"media::image::{EN}",
                "parameters",
            ),
            ("text", "village", "Village", "Village", "yes"),
            ("select_one yes_no", "water", "Is there clean water?", "Eau potable ?", "yes"),
            (
                "integer",
                "households",
                "Households",
                "Ménages",
                "yes",
                None,
                ". >= 1 and . <= 500",
                "Between 1 and 500 households.",
            ),
            (
                "text",
                "source",
                "Where does the water come from?",
                "D'où vient l'eau ?",
                None,
                "${water} = 'yes'",
            ),
            (
                "image",
                "photo",
                "Photo of the site",
                "Photo du site",
                *([None] * 5),
                f"max-pixels={MAX_PIXELS}",
            ),
            ("note", "logo_note", "Project logo", "Logo du projet", *([None] * 4), "logo.png"),
        ],
        choices=[
            ("list_name", "name", f"label::{EN}", f"label::{FR}"),
            ("yes_no", "yes", "Yes", "Oui"),
            ("yes_no", "no", "No", "Non"),
        ],
        settings=[settings_header, settings_row],
    )


def png(colour: tuple[int, int, int] = (30, 90, 160), size: tuple[int, int] = (64, 64)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def camera_photo(size: tuple[int, int] = (3000, 2000)) -> bytes:
    """A JPEG as large as a phone camera takes, with detail so it does not compress to nothing."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (200, 180, 120))
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 40):
        draw.line([(x, 0), (size[0] - x, size[1])], fill=(x % 255, 60, 160), width=7)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()
