// Collect's encrypted submission, made in the browser so the server never sees the answers.
//
// The format is ODK Collect's (collect_app/.../utilities/EncryptionUtils.java; the design note
// shared/design/openrosa.md §6.5), so every tool that decrypts Collect's submissions (Central,
// Briefcase, collect's own export) decrypts these:
// - a random 256-bit AES key, encrypted with the form's RSA public key, OAEP with SHA-256 for
//   both the digest and MGF1 (what BouncyCastle's "RSA/NONE/OAEPWithSHA256AndMGF1Padding" does,
//   and what WebCrypto's RSA-OAEP with hash SHA-256 does);
// - each file AES-256-CFB (128-bit feedback) over PKCS#7-padded bytes, media first in the order
//   listed, submission.xml last; the IV starts as MD5(instanceID ‖ key) and, before the k-th
//   file, byte k mod 16 of it goes up by one (and stays up for the files after);
// - a signature: MD5 over the lines formId, version (if any), the encrypted key, instanceID,
//   `name::md5hex` for each plaintext file, then `submission.xml::md5hex`, RSA-encrypted too.
// WebCrypto has RSA-OAEP but no AES-CFB and no MD5, so those come from the noble libraries.
import { cfb } from '@noble/ciphers/aes.js';
import { md5 } from '@noble/hashes/legacy.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export const ENCRYPTED_NS = 'http://www.opendatakit.org/xforms/encrypted';
const OPENROSA_NS = 'http://openrosa.org/xforms';
const RSA_OAEP = { name: 'RSA-OAEP', hash: 'SHA-256' };
const XML_NAME = 'submission.xml';

/**
 * Encrypt a submission for the form's `base64RsaPublicKey`.
 *
 * @param {object} submission
 * @param {string} submission.formId the instance root's `id`
 * @param {string|null} submission.version the instance root's `version` (null or "" if none)
 * @param {string} submission.instanceId meta/instanceID, e.g. "uuid:..."
 * @param {Uint8Array} submission.xml the instance XML as the form produced it
 * @param {{name: string, bytes: Uint8Array}[]} submission.files media, in the order to list them
 * @param {string} publicKey base64 of the X.509 SubjectPublicKeyInfo, as in the XForm
 * @returns {Promise<{manifest: string, files: {name: string, bytes: Uint8Array}[]}>} the
 *   plaintext manifest to send as xml_submission_file, and the `.enc` files (media, then XML)
 */
export async function encryptSubmission({ formId, version, instanceId, xml, files }, publicKey) {
  if (!instanceId) {
    throw new Error('This form has no meta/instanceID, so its answers cannot be encrypted.');
  }
  const rsa = await importPublicKey(publicKey);
  const key = crypto.getRandomValues(new Uint8Array(32));
  const encryptedKey = toBase64(await rsaEncrypt(rsa, key));
  const iv = md5(concat(utf8(instanceId), key));
  let count = 0;
  const encrypt = (bytes) => {
    iv[count % iv.length] += 1; // a Uint8Array: 255 wraps to 0, as Java's byte does
    count += 1;
    return cfb(key, iv.slice()).encrypt(pkcs7(bytes));
  };

  const lines = [formId, ...(version ? [version] : []), encryptedKey, instanceId];
  const encrypted = [];
  for (const file of files) {
    lines.push(`${file.name}::${bytesToHex(md5(file.bytes))}`);
    encrypted.push({ name: `${file.name}.enc`, bytes: encrypt(file.bytes) });
  }
  lines.push(`${XML_NAME}::${bytesToHex(md5(xml))}`);
  encrypted.push({ name: `${XML_NAME}.enc`, bytes: encrypt(xml) });
  const signature = toBase64(await rsaEncrypt(rsa, md5(utf8(lines.map((l) => `${l}\n`).join('')))));
  key.fill(0);

  // The same elements, order and line breaks as Collect's writeSubmissionManifest.
  const version_ = version ? ` version="${escape(version)}"` : '';
  const media = encrypted
    .slice(0, -1)
    .map((f) => `<media><file>${escape(f.name)}</file></media>\n`)
    .join('');
  const manifest =
    `<data xmlns="${ENCRYPTED_NS}" id="${escape(formId)}"${version_} encrypted="yes">` +
    `<base64EncryptedKey>${encryptedKey}</base64EncryptedKey>` +
    `<orx:meta xmlns:orx="${OPENROSA_NS}"><orx:instanceID>${escape(instanceId)}</orx:instanceID></orx:meta>\n` +
    media +
    `<encryptedXmlFile>${XML_NAME}.enc</encryptedXmlFile>` +
    `<base64EncryptedElementSignature>${signature}</base64EncryptedElementSignature></data>`;
  return { manifest, files: encrypted };
}

async function importPublicKey(base64) {
  try {
    return await crypto.subtle.importKey('spki', fromBase64(base64), RSA_OAEP, false, ['encrypt']);
  } catch (e) {
    throw new Error(`The form's public key could not be read (${e.message}); ask the form's owner.`);
  }
}

async function rsaEncrypt(key, bytes) {
  return new Uint8Array(await crypto.subtle.encrypt(RSA_OAEP, key, bytes));
}

// Java's "PKCS5Padding" on a 16-byte block cipher is PKCS#7: 1 to 16 bytes, each holding the count.
function pkcs7(bytes) {
  const n = 16 - (bytes.length % 16);
  const out = new Uint8Array(bytes.length + n);
  out.set(bytes);
  out.fill(n, bytes.length);
  return out;
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function utf8(text) {
  return new TextEncoder().encode(text);
}

function toBase64(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text) {
  const binary = atob(text.replace(/\s+/g, ''));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function escape(text) {
  return String(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}
