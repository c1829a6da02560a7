// Sending one submission to an OpenRosa submission URL, as ODK Collect sends it.
//
// Collect's request (shared/design/openrosa.md §6.1-6.3): a HEAD first, whose 204 carries
// X-OpenRosa-Accept-Content-Length (10,000,000 when absent); then multipart/form-data POSTs, the
// instance XML in the part `xml_submission_file` (text/xml), each file in a part named by its
// file name. When the next file would take a request past the accepted length, or after 101
// files, the request ends with `*isIncomplete*=yes` and the next one repeats the same XML with
// the next files. Only 201 and 202 count as success. The server takes a repeated XML with the
// same instanceID as "add these files", so sending a request again is always safe.
//
// No DOM here: the service worker sends the outbox too.

export const XML_PART = 'xml_submission_file';
export const DEFAULT_ACCEPTED_LENGTH = 10_000_000;
const MAX_FILES = 100;

/**
 * Split files into requests with Collect's rule (OkHttpConnection.uploadSubmissionAndFiles).
 *
 * @param {number} xmlSize bytes of the instance XML (sent in every request)
 * @param {number[]} sizes bytes of each file, in sending order
 * @param {number} limit the accepted content length
 * @returns {number[][]} the indexes of the files each request carries (at least one request)
 */
export function batches(xmlSize, sizes, limit) {
  const requests = [];
  let index = 0;
  do {
    const first = index;
    const batch = [];
    let bytes = xmlSize;
    for (; index < sizes.length; index += 1) {
      batch.push(index);
      bytes += sizes[index];
      const next = index + 1;
      if (next < sizes.length && (index - first + 1 > MAX_FILES || bytes + sizes[next] > limit)) {
        index = next;
        break;
      }
    }
    requests.push(batch);
  } while (index < sizes.length);
  return requests;
}

/** What Collect would call the file's content type, from its name. */
export function contentType(name) {
  const extension = name.toLowerCase().split('.').pop();
  return TYPES[extension] ?? 'application/octet-stream';
}

const TYPES = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
  webm: 'video/webm',
  mp4: 'video/mp4',
  '3gp': 'video/3gpp',
  pdf: 'application/pdf',
  csv: 'text/csv',
  xml: 'text/xml',
  txt: 'text/plain',
};

/**
 * The accepted content length the server advertises (Collect reads it only from a 204).
 * Throws a TypeError when the network is down.
 */
export async function acceptedLength(url) {
  const response = await fetch(url, {
    method: 'HEAD',
    headers: { 'X-OpenRosa-Version': '1.0' },
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const advertised = Number(response.headers.get('X-OpenRosa-Accept-Content-Length'));
  return response.status === 204 && advertised > 0 ? advertised : DEFAULT_ACCEPTED_LENGTH;
}

/**
 * Send a stored submission, from request `from` on; `progress(n)` is awaited after the n-th
 * request succeeded, so a send cut short resumes after the last request that got its 201.
 *
 * @param {{url: string, xml: Blob, xmlName: string, files: {name: string, blob: Blob}[]}} entry
 * @returns {Promise<{ok: true} | {ok: false, status: number, message: string}>} a TypeError is
 *   thrown when the network is down
 */
export async function send(entry, from = 0, progress = async () => {}) {
  const limit = await acceptedLength(entry.url);
  const requests = batches(
    entry.xml.size,
    entry.files.map((f) => f.blob.size),
    limit,
  );
  for (let n = from; n < requests.length; n += 1) {
    const body = new FormData();
    body.append(XML_PART, new File([entry.xml], entry.xmlName, { type: 'text/xml' }));
    for (const i of requests[n]) {
      const { name, blob } = entry.files[i];
      body.append(name, new File([blob], name, { type: contentType(name) }));
    }
    if (n < requests.length - 1) body.append('*isIncomplete*', 'yes');
    const response = await fetch(entry.url, {
      method: 'POST',
      body,
      headers: { 'X-OpenRosa-Version': '1.0' },
      credentials: 'same-origin',
      cache: 'no-store',
    });
    if (response.status !== 201 && response.status !== 202) {
      return { ok: false, status: response.status, message: responseMessage(await response.text(), response) };
    }
    await progress(n + 1);
  }
  return { ok: true };
}

/** True for answers worth waiting out (the server busy or down), false for a refusal. */
export function isTemporary(status) {
  return status >= 500 || status === 408 || status === 429;
}

/** The first <message> of an OpenRosaResponse, which is what Collect shows, or the status. */
export function responseMessage(body, response) {
  const found = /<message[^>]*>([\s\S]*?)<\/message>/.exec(body);
  if (found) return unescape(found[1].trim());
  try {
    const json = JSON.parse(body);
    if (typeof json.message === 'string') return json.message;
  } catch {
    // not JSON either
  }
  return `The server answered ${response.status} ${response.statusText}`.trim() + '.';
}

function unescape(text) {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, '&');
}
