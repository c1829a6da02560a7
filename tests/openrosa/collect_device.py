"""A test client that replays ODK Collect's side of the OpenRosa exchange.

Read from ODK Collect's source (getodk/collect): `OpenRosaClient.kt` (form list,
manifest), `OkHttpConnection.java` (GET content-type check, HEAD, split multipart POSTs),
`OpenRosaServerInstanceUploader.kt` (pre-flight HEAD, 201/202 as the only success) and
`ResponseMessageParser.java` (the message shown to the enumerator). It refuses whatever Collect
refuses, so a test that passes with it is a server Collect can use. It speaks through a
`Transport`, the Flask test client or real HTTP to a `collect serve` process.
"""

from __future__ import annotations

import hashlib
import http.client
import secrets
import socket
import string
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from lxml import etree

FORM_LIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
DEFAULT_LIMIT = 10_000_000  # Collect's limit when the HEAD gives none
MAX_FILES_PER_POST = 100
USER_AGENT = "org.odk.collect.android/v2026.2.0 Dalvik/2.1.0 (Linux; U; Android 14; Pixel 7)"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def message(self) -> str | None:
        """The text Collect shows: the first <message> of an OpenRosaResponse body."""
        if b"OpenRosaResponse" not in self.body:
            return None
        root = etree.fromstring(self.body, etree.XMLParser(resolve_entities=False))
        found = root.find("{*}message")
        return None if found is None else (found.text or "")

    @property
    def nature(self) -> str | None:
        if b"OpenRosaResponse" not in self.body:
            return None
        root = etree.fromstring(self.body, etree.XMLParser(resolve_entities=False))
        found = root.find("{*}message")
        return None if found is None else found.get("nature")


Transport = Callable[[str, str, dict[str, str], bytes | None], Reply]


def flask_transport(client: FlaskClient) -> Transport:
    """Send requests through a Flask test client (the URL's host becomes the request's)."""

    def send(method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        parts = urlsplit(url)
        response = client.open(
            parts.path,
            method=method,
            query_string=parts.query,
            headers=headers,
            data=body,
            base_url=f"{parts.scheme}://{parts.netloc}",
        )
        return Reply(
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            response.get_data(),
        )

    return send


def http_transport(timeout: float = 60) -> Transport:
    """Send requests over real HTTP, one connection per request as OkHttp may."""

    def send(method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
        try:
            conn.connect()
            # http.client writes headers and body apart; Nagle would wait for a delayed ACK.
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        finally:
            conn.close()

    return send


class ProtocolError(AssertionError):
    """The server answered in a way ODK Collect rejects."""


@dataclass(frozen=True)
class ListedForm:
    form_id: str
    name: str
    version: str | None
    hash: str | None  # without "md5:"
    download_url: str
    manifest_url: str | None


@dataclass(frozen=True)
class DownloadedForm:
    listed: ListedForm
    xml: bytes
    media: dict[str, bytes]


@dataclass(frozen=True)
class Instance:
    """A finalised form on the phone: the instance XML and the other files in its folder."""

    xml: bytes
    files: Sequence[tuple[str, bytes]] = ()
    xml_name: str = "instance.xml"


@dataclass
class Sent:
    """What happened to one instance: every POST made, and whether Collect marks it sent."""

    success: bool
    head_status: int
    limit: int
    posts: list[tuple[Reply, list[str], bool]] = field(default_factory=list)

    @property
    def last(self) -> Reply:
        return self.posts[-1][0]

    @property
    def message(self) -> str | None:
        return self.last.message if self.posts else None


def device_id() -> str:
    """An id like Collect's install id: "collect:" and 16 random letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "collect:" + "".join(secrets.choice(alphabet) for _ in range(16))


class CollectDevice:
    """One phone with ODK Collect, configured with `server_url` (the app user's QR code)."""

    def __init__(
        self,
        server_url: str,
        transport: Transport,
        *,
        device: str | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.server_url = server_url
        self.transport = transport
        self.device_id = device or device_id()
        self.user_agent = user_agent
        self.requests: list[tuple[str, str]] = []

    # HTTP ---------------------------------------------------------------------------------------

    def with_device_id(self, url: str) -> str:
        # Android's Uri.appendQueryParameter: "?" or "&" depending on an existing query.
        separator = "&" if urlsplit(url).query else "?"
        return f"{url}{separator}deviceID={self.device_id.replace(':', '%3A')}"

    def headers(self) -> dict[str, str]:
        # Collect's Date is "E, dd MMM yyyy hh:mm:ss zz": 12-hour clock, no AM/PM. Servers must
        # not validate it.
        now = datetime.now(UTC)
        return {
            "X-OpenRosa-Version": "1.0",
            "User-Agent": self.user_agent,
            "Date": now.strftime("%a, %d %b %Y %I:%M:%S GMT"),
            "Accept-Encoding": "gzip",
        }

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        extra: dict[str, str] | None = None,
    ) -> Reply:
        full = self.with_device_id(url)
        self.requests.append((method, full))
        return self.transport(method, full, {**self.headers(), **(extra or {})}, body)

    def get_xml(self, url: str, what: str) -> Reply:
        """GET a form list or manifest: 200, text/xml and the OpenRosa header, or Collect fails."""
        reply = self.request("GET", url)
        if reply.status != 200:
            raise ProtocolError(f"{what}: server error {reply.status} at {url}")
        content_type = reply.headers.get("content-type", "")
        if "text/xml" not in content_type.lower():
            raise ProtocolError(f"{what}: ContentType {content_type} is not text/xml")
        if "x-openrosa-version" not in reply.headers:
            raise ProtocolError(f"{what}: the server does not correctly implement OpenRosa")
        return reply

    # Forms --------------------------------------------------------------------------------------

    def form_list(self) -> list[ListedForm]:
        """GET {server_url}/formList (all trailing slashes removed first, as Collect does)."""
        reply = self.get_xml(self.server_url.rstrip("/") + "/formList", "formList")
        root = _parse(reply.body)
        if root.tag != f"{{{FORM_LIST_NS}}}xforms":
            raise ProtocolError("formList: the root is not xforms in the xformsList namespace")
        listed = []
        for xform in root:
            if xform.tag != f"{{{FORM_LIST_NS}}}xform":
                continue  # Collect skips children outside the namespace
            values = {
                etree.QName(c).localname: (c.text or "").strip()
                for c in xform
                if isinstance(c.tag, str) and etree.QName(c).namespace == FORM_LIST_NS
            }
            if not (values.get("formID") and values.get("name") and values.get("downloadUrl")):
                raise ProtocolError("formList: an xform lacks formID, name or downloadUrl")
            raw_hash = values.get("hash") or ""
            listed.append(
                ListedForm(
                    form_id=values["formID"],
                    name=values["name"],
                    version=values.get("version") or None,
                    hash=raw_hash[4:] if raw_hash.startswith("md5:") else None,
                    download_url=values["downloadUrl"],
                    manifest_url=values.get("manifestUrl") or None,
                )
            )
        return listed

    def download(self, listed: ListedForm) -> DownloadedForm:
        """Download a listed form and its media, checking every hash as Collect does."""
        if listed.hash is None:
            raise ProtocolError(f"{listed.form_id}: the form has no md5 hash")
        reply = self.request("GET", listed.download_url)
        if reply.status != 200:
            raise ProtocolError(f"{listed.form_id}: server error {reply.status}")
        if hashlib.md5(reply.body).hexdigest() != listed.hash:
            raise ProtocolError(f"{listed.form_id}: the form's bytes do not match its hash")
        media: dict[str, bytes] = {}
        if listed.manifest_url:
            for name, md5, url in self.manifest(listed.manifest_url):
                file = self.request("GET", url)
                if file.status != 200:
                    raise ProtocolError(f"{name}: server error {file.status}")
                if hashlib.md5(file.body).hexdigest() != md5:
                    raise ProtocolError(f"{name}: the file's bytes do not match its hash")
                media[name] = file.body
        return DownloadedForm(listed, reply.body, media)

    def manifest(self, url: str) -> list[tuple[str, str, str]]:
        root = _parse(self.get_xml(url, "manifest").body)
        if root.tag != f"{{{MANIFEST_NS}}}manifest":
            raise ProtocolError("manifest: the root is not manifest in the xformsManifest ns")
        files = []
        for media_file in root.findall(f"{{{MANIFEST_NS}}}mediaFile"):
            name = media_file.findtext(f"{{{MANIFEST_NS}}}filename")
            md5 = media_file.findtext(f"{{{MANIFEST_NS}}}hash")
            download = media_file.findtext(f"{{{MANIFEST_NS}}}downloadUrl")
            if not (name and md5 and download):
                raise ProtocolError("manifest: a mediaFile lacks filename, hash or downloadUrl")
            if not md5.startswith("md5:"):
                raise ProtocolError("manifest: a hash does not start with md5:")
            files.append((name.rsplit("/", 1)[-1], md5[4:], download))
        return files

    # Submissions --------------------------------------------------------------------------------

    def submission_url(self) -> str:
        # Collect removes only one trailing slash before appending /submission.
        url = self.server_url[:-1] if self.server_url.endswith("/") else self.server_url
        return url + "/submission"

    def send(self, instance: Instance) -> Sent:
        """Send a finalised instance: HEAD pre-flight, then one or more multipart POSTs."""
        url = self.submission_url()
        head = self.request("HEAD", url)
        if head.status == 401:
            return Sent(False, head.status, DEFAULT_LIMIT)
        if 200 <= head.status < 300 and head.status != 204:
            raise ProtocolError("Is this an OpenRosa submission endpoint? HEAD gave no 204")
        limit = DEFAULT_LIMIT
        if head.status == 204 and "x-openrosa-accept-content-length" in head.headers:
            limit = int(head.headers["x-openrosa-accept-content-length"])
        sent = Sent(False, head.status, limit)
        for batch, incomplete in batches(instance, limit):
            body, content_type = multipart(instance, batch, incomplete)
            reply = self.request("POST", url, body, {"Content-Type": content_type})
            if reply.status == 204:
                raise ProtocolError("a POST answered 204, which makes Collect throw")
            sent.posts.append((reply, [name for name, _ in batch], incomplete))
            if reply.status not in (201, 202):
                return sent
        sent.success = True
        return sent


def batches(instance: Instance, limit: int) -> list[tuple[list[tuple[str, bytes]], bool]]:
    """Split the files into POSTs exactly as OkHttpConnection.uploadSubmissionAndFiles does."""
    files = list(instance.files)
    out: list[tuple[list[tuple[str, bytes]], bool]] = []
    index = 0
    first = True
    while index < len(files) or first:
        first = False
        last_index = index
        byte_count = len(instance.xml)
        batch: list[tuple[str, bytes]] = []
        incomplete = False
        while index < len(files):
            batch.append(files[index])
            byte_count += len(files[index][1])
            if index + 1 < len(files) and (
                index - last_index + 1 > MAX_FILES_PER_POST
                or byte_count + len(files[index + 1][1]) > limit
            ):
                incomplete = True
                index += 1
                break
            index += 1
        out.append((batch, incomplete))
    return out


def multipart(
    instance: Instance, files: Sequence[tuple[str, bytes]], incomplete: bool
) -> tuple[bytes, str]:
    """OkHttp's MultipartBody.FORM: each part with its Content-Type and Content-Length."""
    boundary = str(uuid.uuid4())
    chunks: list[bytes] = []

    def part(name: str, filename: str | None, content_type: str | None, data: bytes) -> None:
        disposition = f"form-data; name={_quoted(name)}"
        if filename is not None:
            disposition += f"; filename={_quoted(filename)}"
        lines = [f"--{boundary}", f"Content-Disposition: {disposition}"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(data)}")
        chunks.append(("\r\n".join(lines) + "\r\n\r\n").encode() + data + b"\r\n")

    part("xml_submission_file", instance.xml_name, "text/xml", instance.xml)
    for name, data in files:
        part(name, name, _content_type(name), data)
    if incomplete:
        part("*isIncomplete*", None, None, b"yes")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def _quoted(text: str) -> str:
    # OkHttp's appendQuotedString: escape CR, LF and quotes; everything else raw UTF-8.
    escaped = text.replace("\n", "%0A").replace("\r", "%0D").replace('"', "%22")
    return f'"{escaped}"'


def _content_type(name: str) -> str:
    extension = name.rsplit(".", 1)[-1].lower()
    return {
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "png": "image/png",
        "m4a": "audio/mp4",
        "mp4": "video/mp4",
        "csv": "text/csv",
    }.get(extension, "application/octet-stream")


def _parse(body: bytes) -> etree._Element:
    return etree.fromstring(
        body, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    )
