"""A manager previews sample forms in Web Forms on a 390×844 phone: nothing is submitted."""

from __future__ import annotations

import pytest

from tests.webforms.conftest import Phone, Site
from tests.webforms.filling import type_number
from tests.webforms.forms import site_check

pytestmark = pytest.mark.browser

TOO_MANY = "Enter a number from 0 up to the number of women plus men."


def test_preview_of_a_published_sample_form(phone: Phone, site: Site) -> None:
    pid = site.project("Consultations")
    fid = site.sample(pid, "consultation_record")
    phone.preview(pid, fid)
    page = phone.page
    page.get_by_text("nothing is sent or saved").wait_for()
    phone.shot("opened")

    # select_one, date, text.
    page.get_by_label("National human rights action plan").check()
    date = phone.question("Date of the session").locator("input")
    date.click()
    page.locator(
        ".p-datepicker-today > span, .p-datepicker-day-selected, [data-p-today='true']"
    ).first.click()
    page.get_by_label("North").check()
    phone.question("Venue").locator("input").fill("Town hall")

    # A constraint violated, then fixed.
    type_number(phone, "Women", 12)
    type_number(phone, "Men", 8)
    type_number(phone, "Persons with disabilities", 25)
    disabilities = phone.question("Persons with disabilities")
    disabilities.get_by_text(TOO_MANY).wait_for()
    phone.shot("constraint-violated")
    type_number(phone, "Persons with disabilities", 3)
    disabilities.get_by_text(TOO_MANY).wait_for(state="hidden")
    type_number(phone, "Youth (aged 15 to 24)", 4)
    type_number(phone, "Civil society organizations represented", 2)
    type_number(phone, "Government officials present", 1)
    page.get_by_text("Total participants: 20").wait_for()

    # A repeat with two entries.
    first = page.locator(".p-panel.is-repeat").first
    first.get_by_label("Access to justice").check()
    first.locator("textarea").fill("Open a legal aid office in every region.")
    first.get_by_label("Government", exact=True).check()
    first.get_by_label("High").check()
    page.get_by_role("button", name="Add Recommendation").click()
    second = page.locator(".p-panel.is-repeat").nth(1)
    second.get_by_label("Rights of women").check()
    second.locator("textarea").fill("Train judges on gender-based violence.")
    second.get_by_label("Parliament").check()
    second.get_by_label("Medium").check()
    phone.shot("filled")

    page.get_by_role("button", name="Send", exact=True).click()
    page.get_by_text("This is a preview: nothing was sent or saved.").wait_for()
    phone.shot("sent-nothing")

    assert site.submissions(pid, fid) == []
    assert phone.problems == []
    assert phone.foreign_requests() == []


def test_relevant_questions_appear_when_their_condition_holds(phone: Phone, site: Site) -> None:
    pid = site.project("Feedback")
    fid = site.sample(pid, "beneficiary_feedback")
    phone.preview(pid, fid)
    page = phone.page
    consent = phone.question(
        "Do you agree to answer questions about your experience of the project?"
    )
    project = page.get_by_text("Which group do you belong to?")
    assert project.count() == 0
    consent.get_by_label("Yes").check()
    project.wait_for()
    page.get_by_text("Phone number").wait_for(state="detached")
    phone.question("May the project team contact you about your feedback?").get_by_label(
        "Yes"
    ).check()
    page.get_by_text("Phone number").wait_for()
    phone.shot("relevant")
    assert phone.problems == []


def test_a_draft_missing_its_media_can_be_previewed_and_sends_nothing(
    phone: Phone, site: Site
) -> None:
    pid = site.project("Drafts")
    fid = site.upload(pid, site_check(form_id="draft_check"), publish=False)
    phone.sign_in()
    phone.page.goto(f"{phone.base}/projects/{pid}/forms/{fid}/draft")
    phone.problems.clear()  # from here on, the web-form page
    phone.page.get_by_role("link", name="Preview the draft").click()
    phone.page.locator(".odk-form").wait_for()
    phone.page.get_by_text("draft version 1").wait_for()
    phone.question("Village").locator("input").fill("Kara")
    phone.question("Is there clean water?").get_by_label("No", exact=True).check()
    type_number(phone, "Households", 0)
    phone.question("Households").get_by_text("Between 1 and 500 households.").wait_for()
    type_number(phone, "Households", 7)
    phone.page.get_by_role("button", name="Send", exact=True).click()
    phone.page.get_by_text("This is a preview: nothing was sent or saved.").wait_for()
    phone.shot("draft-preview")
    assert site.submissions(pid, fid) == []
    # The logo was never uploaded: the preview shows the form without it, not even asking.
    assert phone.problems == []
