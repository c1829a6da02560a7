// The page entry: ODK Web Forms for the form an element's data attributes name.
//
//   <main data-webform
//         data-form-url="/v1/projects/1/forms/f.xml"           the XForm
//         data-attachments-url="/v1/projects/1/forms/f/attachments/"   + a media file's name
//         data-media='["logo.png"]'                             the attachments the server has
//         data-submission-url="/v1/key/.../submission"          an OpenRosa submission URL, or
//                                                               "" for a preview (nothing sent)
//         data-language="fr"                                    wished language (optional)
//         data-missing-resources="BLANK"                        or ERROR (the default)
//         data-sw-scope="/f/1/f">                               service worker scope (optional)
//
// On "Send", the answers go into the outbox (IndexedDB), encrypted first when the form has a
// public key, and the form starts afresh; the outbox sends them as Collect would. An element
// [data-outbox-status] shows what is waiting; [data-offline-status] says when the page, form and
// media are kept for use without a network.
//
// The module also exports its parts, so the browser tests can reach them.
import { OdkWebForm, POST_SUBMIT__NEW_INSTANCE, webFormsPlugin } from '@getodk/web-forms';
import { createApp, h } from 'vue';
import { encryptSubmission } from './envelope.js';
import { withLanguage } from './language.js';
import * as outbox from './outbox.js';
import { XML_PART } from './submission.js';
import './page.css';

export { encryptSubmission } from './envelope.js';
export { chooseLanguage, languageCode, withLanguage } from './language.js';
export { batches, contentType } from './submission.js';
export { outbox };

const SYNC_TAG = 'collect-outbox';
const RETRY_SECONDS = [5, 15, 30, 60];

async function start(element) {
  const config = readConfig(element);
  const status = new OutboxStatus(document.querySelector('[data-outbox-status]'), config);
  const worker = registerWorker(config);
  let xform;
  try {
    const response = await fetch(config.formUrl, { credentials: 'same-origin' });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    xform = await response.text();
  } catch (e) {
    showProblem(
      element,
      `The form could not be loaded (${e.message}). Check the connection and reload the page.`,
    );
    return;
  }
  const wishes = [config.language, ...(navigator.languages ?? [navigator.language])];
  const app = createApp({
    render: () =>
      h(OdkWebForm, {
        formXml: withLanguage(xform, wishes),
        fetchFormAttachment: (url) => fetchAttachment(config, url),
        missingResourceBehavior: config.missingResources,
        trackDevice: true,
        onSubmit: (payload, callback) => void submit(config, status, payload, callback),
      }),
  });
  app.use(webFormsPlugin);
  element.replaceChildren();
  app.mount(element);
  void worker.then((registration) => keepForOffline(config, registration));
  if (config.submissionUrl) status.start();
}

function readConfig(element) {
  const data = element.dataset;
  return {
    formUrl: data.formUrl,
    attachmentsUrl: data.attachmentsUrl ?? '',
    media: JSON.parse(data.media || '[]'),
    submissionUrl: data.submissionUrl || null,
    language: data.language || null,
    missingResources: data.missingResources === 'BLANK' ? 'BLANK' : 'ERROR',
    workerUrl: data.swUrl || null,
    workerScope: data.swScope || null,
  };
}

// Web Forms asks for jr://images/logo.png or jr://file-csv/list.csv: the server serves each
// attachment under its file name. One that was never uploaded (a draft's) is missing without
// asking: data-media lists every file the server has.
function fetchAttachment(config, jrUrl) {
  const name = decodeURIComponent(new URL(jrUrl).pathname.split('/').pop());
  if (!config.media.includes(name)) return Promise.resolve(new Response(null, { status: 404 }));
  return fetch(config.attachmentsUrl + encodeURIComponent(name), { credentials: 'same-origin' });
}

async function submit(config, status, payload, callback) {
  if (payload.status !== 'ready') return;
  if (!config.submissionUrl) {
    status.notice('The answers are valid. This is a preview: nothing was sent or saved.');
    callback();
    return;
  }
  const [data] = payload.data;
  const xml = data.get(XML_PART);
  const files = [...data.entries()]
    .filter(([name]) => name !== XML_PART)
    .map(([name, blob]) => ({ name, blob }));
  try {
    const about = describe(await xml.text());
    const key = payload.submissionMeta.encryptionKey;
    const stored = key ? await sealed(about, xml, files, key) : { xml, files };
    await outbox.add({
      url: config.submissionUrl,
      formId: about.formId,
      instanceId: about.instanceId ?? crypto.randomUUID(),
      xmlName: 'submission.xml',
      encrypted: Boolean(key),
      ...stored,
    });
  } catch (e) {
    // The form keeps its answers: nothing is cleared unless it was stored.
    status.notice(`The answers could not be saved in this browser: ${e.message} Press Send again.`);
    callback();
    return;
  }
  callback({ next: POST_SUBMIT__NEW_INSTANCE });
  window.scrollTo(0, 0);
  void navigator.storage?.persist?.(); // ask the browser not to evict the outbox when space is short
  void requestSync(config);
  status.sendSoon();
}

async function sealed(about, xml, files, publicKey) {
  const bytes = async (blob) => new Uint8Array(await blob.arrayBuffer());
  const envelope = await encryptSubmission(
    {
      ...about,
      xml: await bytes(xml),
      files: await Promise.all(files.map(async (f) => ({ name: f.name, bytes: await bytes(f.blob) }))),
    },
    publicKey,
  );
  return {
    xml: new Blob([envelope.manifest], { type: 'text/xml' }),
    files: envelope.files.map((f) => ({ name: f.name, blob: new Blob([f.bytes]) })),
  };
}

/** The instance's form id, version and instanceID, read from its XML. */
function describe(xmlText) {
  const doc = new DOMParser().parseFromString(xmlText, 'application/xml');
  const top = doc.documentElement;
  const id = [...doc.getElementsByTagNameNS('*', 'instanceID')].find(
    (e) => e.parentNode?.localName === 'meta',
  );
  return {
    formId: top.getAttribute('id'),
    version: top.getAttribute('version') || null,
    instanceId: id?.textContent.trim() || null,
  };
}

function showProblem(element, message) {
  const p = document.createElement('p');
  p.className = 'wf-problem';
  p.setAttribute('role', 'alert');
  p.textContent = message;
  element.replaceChildren(p);
}

// Offline ------------------------------------------------------------------------------------

async function registerWorker(config) {
  if (!config.workerUrl || !('serviceWorker' in navigator)) return null;
  try {
    await navigator.serviceWorker.register(config.workerUrl, { scope: config.workerScope });
    // `ready` settles on the registration controlling this page (its scope includes it).
    return await navigator.serviceWorker.ready;
  } catch (e) {
    console.warn('The offline service worker could not start:', e);
    return null;
  }
}

async function keepForOffline(config, registration) {
  const marker = document.querySelector('[data-offline-status]');
  if (!registration?.active) return;
  const urls = [
    location.href,
    new URL(config.formUrl, location.href).href,
    ...config.media.map((name) => new URL(config.attachmentsUrl + encodeURIComponent(name), location.href).href),
  ];
  const answer = await new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (event) => resolve(event.data);
    registration.active.postMessage({ type: 'keep', urls }, [channel.port2]);
  });
  if (marker) {
    const saved = config.submissionUrl
      ? 'This form is saved in this browser: it opens, and keeps your answers, without a network.'
      : 'This preview is saved in this browser: it opens without a network.';
    marker.textContent = answer.ok
      ? saved
      : 'This form could not be saved for use without a network: keep this page open.';
    marker.hidden = false;
  }
  document.documentElement.dataset.offline = answer.ok ? 'ready' : 'failed';
}

async function requestSync(config) {
  try {
    const registration = await navigator.serviceWorker?.getRegistration(config.workerScope ?? undefined);
    await registration?.sync?.register(SYNC_TAG);
  } catch {
    // No background sync (or not allowed): the page sends while it is open.
  }
}

// The outbox, as the person filling the form sees it ---------------------------------------

class OutboxStatus {
  constructor(element, config) {
    this.element = element;
    this.config = config;
    this.retry = 0;
    this.timer = null;
    this.hadWaiting = false;
  }

  start() {
    outbox.subscribe(() => void this.render());
    window.addEventListener('online', () => this.sendSoon());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.sendSoon();
    });
    void this.render();
    this.sendSoon();
  }

  sendSoon(delay = 0) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.send(), delay);
  }

  async send() {
    let outcome;
    try {
      // onLine false is certain (true is only a hope): then wait for the 'online' event.
      outcome = navigator.onLine === false ? 'offline' : await outbox.flush();
    } catch (e) {
      this.notice(`Sending stopped: ${e.message}`);
      outcome = 'offline';
    }
    const left = (await this.mine()).filter((e) => e.state === outbox.WAITING).length;
    if (outcome === 'sent' || left === 0) {
      this.retry = 0;
    } else {
      // Offline, the server busy, or another tab sending: look again a little later.
      const seconds = RETRY_SECONDS[Math.min(this.retry, RETRY_SECONDS.length - 1)];
      this.retry += 1;
      this.sendSoon(seconds * 1000);
    }
    await this.render();
  }

  async mine() {
    return (await outbox.entries()).filter((e) => e.url === this.config.submissionUrl);
  }

  async render() {
    if (!this.element) return;
    const entries = await this.mine();
    const waiting = entries.filter((e) => e.state === outbox.WAITING);
    const refused = entries.filter((e) => e.state === outbox.REFUSED);
    const lines = [];
    if (waiting.length > 0) {
      this.hadWaiting = true;
      lines.push([
        `${count(waiting.length)} waiting to send. ` +
          (navigator.onLine
            ? 'Sending…'
            : 'They are kept in this browser and are sent when the network returns.'),
        'Send now',
        () => this.sendSoon(),
      ]);
    }
    for (const entry of refused) {
      lines.push([`1 submission could not be sent: ${entry.message}`, 'Try again', async () => {
        await outbox.retryRefused();
        this.sendSoon();
      }]);
    }
    if (lines.length === 0) {
      if (!this.hadWaiting) return;
      lines.push(['All submissions were sent.', null, null]);
    }
    this.element.replaceChildren(
      ...lines.map(([text, action, handler]) => {
        const p = document.createElement('p');
        p.textContent = text;
        if (action) {
          const button = document.createElement('button');
          button.type = 'button';
          button.textContent = action;
          button.addEventListener('click', handler);
          p.append(' ', button);
        }
        return p;
      }),
    );
    this.element.hidden = false;
  }

  notice(text) {
    if (!this.element) return;
    const p = document.createElement('p');
    p.textContent = text;
    this.element.replaceChildren(p);
    this.element.hidden = false;
  }
}

function count(n) {
  return n === 1 ? '1 submission' : `${n} submissions`;
}

// Last, once every class and constant above exists.
const root = document.querySelector('[data-webform]');
if (root) void start(root);
