"""Real JavaRosa serialisations: fill a form with the engine inside pyxform's ODK Validate jar.

ODK Collect writes instances with JavaRosa's XFormSerializingVisitor; FillForm.java drives the
same engine (from the jar pyxform already ships) so tests can post what a phone would post.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pyxform

JAR = Path(pyxform.__file__).parent / "validators" / "odk_validate" / "bin" / "ODK_Validate.jar"
SOURCE = Path(__file__).parent / "javarosa" / "FillForm.java"


class JavaRosa:
    """A compiled FillForm, ready to fill forms."""

    def __init__(self, classes: Path) -> None:
        self.classes = classes

    def fill(self, form_xml: bytes, answers: dict[str, str]) -> bytes:
        """The instance JavaRosa writes for `form_xml` answered with `answers` (name: value)."""
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            (work / "form.xml").write_bytes(form_xml)
            lines = [f"{_escape(k)}={_escape(v)}" for k, v in answers.items()]
            (work / "answers.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")
            subprocess.run(
                [
                    "java",
                    "-cp",
                    f"{JAR}:{self.classes}",
                    "FillForm",
                    str(work / "form.xml"),
                    str(work / "answers.properties"),
                    str(work / "out.xml"),
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            return (work / "out.xml").read_bytes()


def compile_filler(target: Path) -> JavaRosa | None:
    """Compile FillForm against the jar; None when Java is not installed."""
    if not (shutil.which("java") and shutil.which("javac") and JAR.exists()):
        return None
    subprocess.run(
        ["javac", "-cp", str(JAR), "-d", str(target), str(SOURCE)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return JavaRosa(target)


def _escape(text: str) -> str:
    # java.util.Properties: backslashes, and separators or a leading space in keys and values.
    out = text.replace("\\", "\\\\").replace("=", "\\=").replace(":", "\\:")
    return "\\ " + out[1:] if out.startswith(" ") else out
