"""Time the raw cost of decrypting Collect's encrypted submissions on one core.

Usage (from the repository root; needs java and javac):

    .venv/bin/python bench/decrypt.py                       # 20,000 small submissions
    .venv/bin/python bench/decrypt.py -n 20000 --photo-kb 10

A managed key is made and opened with its passphrase (Argon2id, once per export). `-n`
submissions are then sealed for its public key by the tests' independent Java encryptor
(tests/encryption/java, as ODK Collect seals them) in one JVM run, and opened here in one
process, one core: per envelope the AES key is unwrapped (RSA-OAEP), every file decrypted,
and the signature checked (a second RSA-OAEP decryption). The files are read from disk (the
page cache, after sealing). Decryption throughput is measured on a large video too.
This is the floor under phase 2's `POST .../submissions.csv.zip` with the passphrase; the issue's
targets are for that export (20,000 submissions under 6 s, with a 10 KB photo each under 10 s).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collect.domain.encryption import keys
from collect.domain.encryption.envelope import Envelope
from tests.encryption.collect_crypto import Plain, Sealed, compile_encryptor

PASSPHRASE = "a long benchmark passphrase"
FORM_ID = "training_posttest"
VERSION = "2024060101"


def submission_xml(instance_id: str, k: int) -> bytes:
    """A post-test submission about the size JavaRosa writes for the sample form (~1 KB)."""
    answers = "".join(f"<q{i}>{'abcd'[(k + i) % 4]}</q{i}>" for i in range(1, 9))
    return (
        f'<?xml version=\'1.0\' ?><data id="{FORM_ID}" version="{VERSION}" '
        'xmlns:orx="http://openrosa.org/xforms">'
        f"<participant>P{k:06}</participant><event>hrba_planning</event>{answers}"
        "<comment>The session on treaty reporting was useful for our ministry.</comment>"
        "<photo>photo.jpg</photo>"
        f"<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


def opener(sealed: Sealed) -> Callable[[str], BinaryIO]:
    """Open an envelope's .enc files from disk, as the blob store will hand them over."""
    return lambda name: sealed.path(name).open("rb")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="submissions (default 20,000)")
    parser.add_argument("--photo-kb", type=int, default=0, help="a photo of this size each")
    parser.add_argument("--video-mb", type=int, default=64, help="video for the MB/s figure")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        encryptor = compile_encryptor(work / "classes")
        if encryptor is None:
            print("bench/decrypt.py needs java and javac (the independent encryptor)")
            return 2

        started = time.perf_counter()
        managed = keys.generate(PASSPHRASE)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        private_key = keys.unlock(managed, PASSPHRASE)
        unlocked = time.perf_counter() - started

        photo = work / "photo.jpg"
        photo.write_bytes(os.urandom(args.photo_kb * 1024))
        video = work / "video.mp4"
        video.write_bytes(os.urandom(args.video_mb * 1024 * 1024))
        jobs = []
        for k in range(args.n + 1):
            instance_id = f"uuid:{uuid.uuid4()}"
            if k == args.n:  # one more, with a large video, for the decryption throughput
                media = [("video.mp4", video)]
            else:
                media = [("photo.jpg", photo)] if args.photo_kb else []
            plain = Plain(FORM_ID, instance_id, submission_xml(instance_id, k), VERSION, media)
            jobs.append((work / "sealed" / str(k), plain))
        started = time.perf_counter()
        *sealed, bulk = encryptor.seal_many(jobs, public_key=managed.public)
        seal_seconds = time.perf_counter() - started
        plain_bytes = sum(len(p.xml) + args.photo_kb * 1024 for _, p in jobs[:-1])

        # Phase by phase, so each cost is seen on its own.
        started = time.perf_counter()
        envelopes = [Envelope.open(s.manifest, private_key) for s in sealed]
        unwrap_seconds = time.perf_counter() - started

        started = time.perf_counter()
        for env, s in zip(envelopes, sealed, strict=True):
            env.read(opener(s))
        read_seconds = time.perf_counter() - started

        # The whole job again on fresh envelopes: what an export pays per submission.
        started = time.perf_counter()
        for s in sealed:
            Envelope.open(s.manifest, private_key).read(opener(s))
        total_seconds = time.perf_counter() - started

        env = Envelope.open(bulk.manifest, private_key)
        started = time.perf_counter()
        with bulk.path("video.mp4.enc").open("rb") as source:
            for _ in env.decrypt("video.mp4.enc", source):
                pass
        bulk_seconds = time.perf_counter() - started

    n = args.n
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"managed key: generate {generated:.2f} s, unlock with passphrase {unlocked:.2f} s")
    print(
        f"sealed {n} submissions ({plain_bytes / 1e6:.1f} MB plaintext"
        f"{f', a {args.photo_kb} KB photo each' if args.photo_kb else ''}) in Java: "
        f"{seal_seconds:.1f} s"
    )
    print(f"unwrap (RSA-OAEP):              {unwrap_seconds / n * 1000:.3f} ms each")
    print(f"decrypt files + signature:      {read_seconds / n * 1000:.3f} ms each")
    print(
        f"whole envelope on one core:     {total_seconds / n * 1000:.3f} ms each, "
        f"{total_seconds:.2f} s for {n} ({n / total_seconds:.0f}/s)"
    )
    rate = args.video_mb / bulk_seconds
    print(
        f"AES-256-CFB decrypt + MD5:      {rate:.0f} MB/s (a {args.video_mb} MB video, from disk)"
    )
    print(f"peak RSS:                       {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
