"""The S3 store: one object per SHA-256 in any S3-compatible bucket, through boto3.

Keys mirror the directory store (`<prefix><sha[:2]>/<sha>`), so a folder copied into a bucket
with any S3 tool is a valid store. Every upload carries the SHA-256 of its bytes
(`x-amz-checksum-sha256`): the server refuses bytes that do not match (BadDigest), and a PUT
becomes visible only once complete, so an object under a hash's name is always whole. Large
files go up in parts, each with its own checksum, read from the file one part at a time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar, cast
from urllib.parse import quote

import boto3
import botocore.config
import botocore.exceptions

from collect.errors import Unavailable
from collect.storage.blobs.base import (
    CHUNK,
    SMALL,
    ChecksumMismatch,
    Hasher,
    Opened,
    Readable,
    Store,
    Written,
    check_expected,
    hashed,
    missing,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MB = 1 << 20
# An upload's start time never moves, and a large file sent over a slow link takes a while: a
# multipart upload is abandoned only when it began a day ago.
STALE_UPLOAD_SECONDS = 24 * 3600
log = logging.getLogger("collect.blobs")
T = TypeVar("T")
# S3 error codes that mean "no such object" (HEAD answers a bare 404).
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True)
class Settings:
    """Where the bucket is and how to reach it; None leaves a value to boto3 (AWS_* variables,
    ~/.aws/config, an instance role)."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    addressing_style: str | None = None  # "path" or "virtual"; default: path with an endpoint
    # Seconds a pre-signed download URL lives; 0 streams every download through the server.
    redirect_seconds: int = 0
    # The endpoint browsers reach, when it differs from the server's (a pre-signed URL is
    # signed for one host).
    public_endpoint_url: str | None = None
    multipart_bytes: int = 64 * MB  # files larger than this go up in parts
    part_bytes: int = 16 * MB  # each part is read into memory once (S3's minimum is 5 MB)
    connections: int = 16

    @staticmethod
    def parse(url: str) -> tuple[str, str]:
        """The bucket and key prefix of `s3://bucket/prefix`."""
        if not url.startswith("s3://"):
            raise ValueError(f"not an s3:// URL: {url!r}")
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"the URL {url!r} names no bucket; write s3://bucket/prefix")
        prefix = prefix.strip("/")
        return bucket, f"{prefix}/" if prefix else ""


class S3Store(Store):
    kind = "s3"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self.client = _client(settings, settings.endpoint_url)
        self._signer = self.client
        if settings.public_endpoint_url:
            self._signer = _client(settings, settings.public_endpoint_url)

    def describe(self) -> str:
        where = f" at {self.settings.endpoint_url}" if self.settings.endpoint_url else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"

    def key(self, sha256: str) -> str:
        return f"{self.prefix}{sha256[:2]}/{sha256}"

    # Writing -------------------------------------------------------------------------------

    def write(self, data: bytes) -> Written:
        written = hashed(data)
        self._put(written, data)
        return written

    def _put(self, written: Written, body: bytes | IO[bytes]) -> None:
        # Re-putting bytes already stored is harmless (same key, same bytes), and cheaper for a
        # small file than asking first.
        checksum = _b64(written.sha256)
        try:
            answer = self._call(
                lambda: self.client.put_object(
                    Bucket=self.bucket,
                    Key=self.key(written.sha256),
                    Body=body,
                    ContentLength=written.size,
                    ChecksumSHA256=checksum,
                )
            )
        except botocore.exceptions.ClientError as e:
            if _code(e) in ("BadDigest", "XAmzContentSHA256Mismatch", "InvalidDigest"):
                raise ChecksumMismatch(written.sha256, "(other bytes, said the S3 server)") from e
            raise
        returned = answer.get("ChecksumSHA256")
        if returned and returned != checksum:
            raise ChecksumMismatch(written.sha256, base64.b64decode(returned).hex())

    def write_file(self, source: Readable, expected: str | None = None) -> Written:
        start = _position(source)
        first = source.read(SMALL + 1)
        if len(first) <= SMALL:
            written = hashed(first)
            check_expected(written, expected)
            self._put(written, first)
            return written
        # The key is the hash, known only once every byte is read: hash a seekable file where
        # it is and read it again to send it, or first copy another stream to a temporary file.
        with tempfile.TemporaryFile() as spool:
            copy = cast(IO[bytes], source) if start is not None else spool
            hasher = Hasher()
            chunk = first
            while chunk:
                hasher.update(chunk)
                if copy is spool:
                    spool.write(chunk)
                chunk = source.read(CHUNK)
            written = hasher.written()
            check_expected(written, expected)
            copy.seek(0 if start is None else start)
            if self.exists(written.sha256):
                return written
            if written.size <= self.settings.multipart_bytes:
                self._put(written, copy)
            else:
                self._put_in_parts(written, copy)
        return written

    def _put_in_parts(self, written: Written, source: Readable) -> None:
        key = self.key(written.sha256)
        upload = self._call(
            lambda: self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256"
            )
        )
        upload_id = upload["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            whole = hashlib.sha256()
            while part := source.read(self.settings.part_bytes):
                whole.update(part)
                checksum = base64.b64encode(hashlib.sha256(part).digest()).decode()
                number = len(parts) + 1
                sent = self._call(
                    lambda part=part, number=number, checksum=checksum: self.client.upload_part(  # type: ignore[misc]
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=part,
                        ChecksumSHA256=checksum,
                    )
                )
                parts.append(
                    {"PartNumber": number, "ETag": sent["ETag"], "ChecksumSHA256": checksum}
                )
            # The file read a second time must be the one hashed the first time.
            if whole.hexdigest() != written.sha256:
                raise ChecksumMismatch(written.sha256, whole.hexdigest())
            self._call(
                lambda: self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                )
            )
        except BaseException:
            self._abort(key, upload_id)
            raise
        size = self._call(lambda: self.client.head_object(Bucket=self.bucket, Key=key))[
            "ContentLength"
        ]
        if size != written.size:
            raise ChecksumMismatch(written.sha256, f"(an object of {size} bytes)")

    def _abort(self, key: str, upload_id: str) -> None:
        # When even this fails, the parts are left for `sweep` (and the bucket's lifecycle rule).
        with contextlib.suppress(
            botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError
        ):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    # Reading -------------------------------------------------------------------------------

    def open(self, sha256: str) -> Opened:
        try:
            answer = self._call(
                lambda: self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))
            )
        except botocore.exceptions.ClientError as e:
            if _code(e) in _MISSING:
                raise missing(sha256) from None
            raise _unavailable(e) from e
        body = answer["Body"]
        return Opened(_guarded(body.read), answer["ContentLength"], body.close)

    def exists(self, sha256: str) -> bool:
        try:
            self._call(lambda: self.client.head_object(Bucket=self.bucket, Key=self.key(sha256)))
        except botocore.exceptions.ClientError as e:
            if _code(e) in _MISSING:
                return False
            raise _unavailable(e) from e
        return True

    def inventory(self) -> Iterator[tuple[str, int]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    folder, _, name = item["Key"][len(self.prefix) :].partition("/")
                    if len(name) == 64 and name.startswith(folder) and len(folder) == 2:
                        yield name, item["Size"]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise _unavailable(e) from e

    def sweep(self, older_than: float = STALE_UPLOAD_SECONDS) -> int:
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        removed = 0
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        try:
            for page in pages:
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < cutoff:
                        self._abort(upload["Key"], upload["UploadId"])
                        removed += 1
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise _unavailable(e) from e
        return removed

    def redirect_url(self, sha256: str, content_type: str, filename: str) -> str | None:
        seconds = self.settings.redirect_seconds
        if seconds <= 0:
            return None
        # The bucket's origin serves the bytes, so the app's own headers (a sandboxing CSP) do
        # not apply: always a download, never shown inline.
        url: str = self._signer.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.key(sha256),
                "ResponseContentType": content_type,
                "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(filename)}",
                "ResponseCacheControl": "private, no-store",
            },
            ExpiresIn=seconds,
        )
        return url

    def _call(self, request: Callable[[], T]) -> T:
        """Run one S3 request; an unreachable server becomes Unavailable (503)."""
        try:
            return request()
        except botocore.exceptions.ClientError as e:
            if _code(e) in ("NoSuchBucket", "AccessDenied", "InvalidAccessKeyId"):
                raise _unavailable(e) from e
            if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                raise _unavailable(e) from e
            raise
        except botocore.exceptions.BotoCoreError as e:
            raise _unavailable(e) from e


_clients: dict[tuple[Any, ...], S3Client] = {}
_clients_lock = threading.Lock()


def _client(settings: Settings, endpoint_url: str | None) -> S3Client:
    """A client per endpoint and credentials, shared by the process's stores: making one loads
    botocore's S3 model (~0.1 s), and a client is safe to use from many threads."""
    key = (
        endpoint_url,
        settings.region,
        settings.access_key_id,
        settings.secret_access_key,
        settings.session_token,
        settings.addressing_style,
        settings.connections,
    )
    with _clients_lock:
        found = _clients.get(key)
        if found is None:
            # boto3's default session is not thread-safe; one of our own, used once here, is.
            session = boto3.session.Session(
                aws_access_key_id=settings.access_key_id,
                aws_secret_access_key=settings.secret_access_key,
                aws_session_token=settings.session_token,
                region_name=settings.region,
            )
            style = settings.addressing_style or ("path" if endpoint_url else "auto")
            config = botocore.config.Config(
                signature_version="s3v4",  # pre-signed URLs too (boto3 would sign those with v2)
                s3={"addressing_style": cast(Literal["auto", "virtual", "path"], style)},
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=60,
                max_pool_connections=settings.connections,
            )
            found = session.client("s3", endpoint_url=endpoint_url, config=config)
            _clients[key] = found
    return found


def _b64(sha256_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def _code(e: botocore.exceptions.ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def _position(source: Readable) -> int | None:
    """Where a seekable file is; None for a stream that cannot be read twice."""
    try:
        if isinstance(source, io.IOBase) and source.seekable():
            return source.tell()
    except (OSError, ValueError):
        pass
    return None


def _guarded(read: Callable[[int], bytes]) -> Callable[[int], bytes]:
    def guarded(n: int) -> bytes:
        try:
            return read(n)
        except (botocore.exceptions.BotoCoreError, OSError) as e:
            raise _unavailable(e) from e

    return guarded


def _unavailable(e: Exception) -> Unavailable:
    # The cause goes to the log, not to the client: it names internal hosts.
    log.error("S3 blob store error: %s: %s", type(e).__name__, e)
    return Unavailable(
        "The server cannot reach its file store right now, so it could not store or read the "
        "file. Try again in a few minutes."
    )
