"""Encrypt submissions exactly as ODK Collect does, with the JDK's javax.crypto (EncryptSubmission).

The server's decryption is only worth trusting if it opens envelopes it did not make itself:
this drives an independent Java implementation of Collect's EncryptionUtils, compiled by the
test session as tests/openrosa/javarosa.py compiles FillForm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).parent / "java" / "EncryptSubmission.java"


@dataclass(frozen=True)
class Sealed:
    """What Collect sends for one encrypted submission, as files in `folder`."""

    folder: Path
    manifest: bytes  # the plaintext submission.xml part
    names: tuple[str, ...]  # the .enc files: media in manifest order, then submission.xml.enc

    def path(self, name: str) -> Path:
        return self.folder / name

    def files(self) -> dict[str, bytes]:
        """Every .enc file's bytes (small submissions only)."""
        return {name: self.path(name).read_bytes() for name in self.names}


@dataclass(frozen=True)
class Plain:
    """A filled-in submission before Collect encrypts it."""

    form_id: str
    instance_id: str
    xml: bytes
    version: str | None = None
    media: Sequence[tuple[str, bytes | Path]] = ()  # (name, bytes or a file), in manifest order


class CollectEncryptor:
    """A compiled EncryptSubmission, ready to seal submissions."""

    def __init__(self, classes: Path) -> None:
        self.classes = classes

    def seal(
        self,
        out: Path,
        *,
        public_key: str,
        form_id: str,
        instance_id: str,
        xml: bytes,
        version: str | None = None,
        media: Sequence[tuple[str, bytes | Path]] = (),
    ) -> Sealed:
        """Encrypt `xml` and `media` (name, bytes or a file) for `public_key` into `out`."""
        [sealed] = self.seal_many(
            [(out, Plain(form_id, instance_id, xml, version, media))], public_key=public_key
        )
        return sealed

    def seal_many(self, jobs: Sequence[tuple[Path, Plain]], *, public_key: str) -> list[Sealed]:
        """Encrypt each submission into its folder, in one Java run (for benchmarks)."""
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            lines: list[str] = []
            for k, (out, plain) in enumerate(jobs):
                source = work / str(k)
                (source / "media").mkdir(parents=True)
                (source / "submission.xml").write_bytes(plain.xml)
                lines += [
                    "---",
                    f"out={out}",
                    f"publicKey={public_key}",
                    f"formId={plain.form_id}",
                    f"instanceID={plain.instance_id}",
                    f"submission={source / 'submission.xml'}",
                ]
                if plain.version is not None:
                    lines.append(f"version={plain.version}")
                for name, content in plain.media:
                    path = source / "media" / name
                    if isinstance(content, Path):
                        path.symlink_to(content.resolve())
                    else:
                        path.write_bytes(content)
                    lines.append(f"media={path}")
            (work / "jobs.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
            subprocess.run(
                [
                    "java",
                    "-cp",
                    str(self.classes),
                    "EncryptSubmission",
                    str(work / "jobs.txt"),
                    work,
                ],
                check=True,
                capture_output=True,
                timeout=3600,
                # Java names files in the locale's charset: make it UTF-8 whatever the machine's.
                env={**os.environ, "LC_ALL": "C.UTF-8"},
            )
        return [
            Sealed(
                out,
                (out / "submission.xml").read_bytes(),
                (*(f"{name}.enc" for name, _ in plain.media), "submission.xml.enc"),
            )
            for out, plain in jobs
        ]


def compile_encryptor(target: Path) -> CollectEncryptor | None:
    """Compile EncryptSubmission; None when Java is not installed."""
    if not (shutil.which("java") and shutil.which("javac")):
        return None
    subprocess.run(
        ["javac", "-d", str(target), str(SOURCE)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return CollectEncryptor(target)
