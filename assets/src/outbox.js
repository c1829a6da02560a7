// The outbox: submissions kept in this browser (IndexedDB) until the server has them.
//
// A submission is written here, whole, before the form is cleared, so closing the tab or losing
// the network loses nothing. Entries are sent oldest first whenever the page opens, the network
// returns, the user asks, or the service worker's background sync fires; one sender at a time
// (a Web Lock shared by tabs and the worker). An entry leaves only after its last request got a
// 201. Sending again after a lost answer is safe: the server keeps one submission per
// instanceID. An entry the server refuses (a 4xx: closed form, conflict, too large) stays, marked
// with the server's sentence, until someone tries again.
//
// Used by the page and by the service worker, so no DOM here.
import { isTemporary, send } from './submission.js';

const DB_NAME = 'collect-webforms';
const STORE = 'outbox';
const LOCK = 'collect-outbox';
const CHANNEL = 'collect-outbox';

export const WAITING = 'waiting';
export const REFUSED = 'refused';

function database() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(STORE, { keyPath: 'key' });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transaction(mode, work) {
  const db = await database();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const result = work(tx.objectStore(STORE));
      // Resolve only once the transaction is committed: then the entry is on disk.
      tx.oncomplete = () => resolve(result?.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('The browser refused to store the answers.'));
    });
  } finally {
    db.close();
  }
}

/**
 * Keep a submission until it is sent.
 *
 * @param {{url: string, instanceId: string, formId: string, xml: Blob, xmlName: string,
 *   files: {name: string, blob: Blob}[]}} submission
 */
export async function add(submission) {
  const entry = {
    ...submission,
    key: `${submission.url} ${submission.instanceId}`,
    state: WAITING,
    sent: 0,
    attempts: 0,
    message: null,
    queuedAt: Date.now(),
  };
  await transaction('readwrite', (store) => store.put(entry));
  announce();
  return entry.key;
}

/** Every entry, oldest first. */
export async function entries() {
  const all = (await transaction('readonly', (store) => store.getAll())) ?? [];
  return all.sort((a, b) => a.queuedAt - b.queuedAt);
}

async function update(key, changes) {
  await transaction('readwrite', (store) => {
    const request = store.get(key);
    request.onsuccess = () => {
      if (request.result) store.put({ ...request.result, ...changes });
    };
  });
}

async function remove(key) {
  await transaction('readwrite', (store) => store.delete(key));
}

/** Put refused entries back in the queue (the user fixed what the server complained about). */
export async function retryRefused() {
  for (const entry of await entries()) {
    if (entry.state === REFUSED) await update(entry.key, { state: WAITING, message: null });
  }
  announce();
}

/**
 * Send what is waiting. Resolves to 'sent' (nothing left waiting), 'offline' (the network is
 * down or the server is busy: try later) or 'busy' (another tab or the worker is sending).
 */
export async function flush() {
  const run = async (lock) => {
    if (!lock) return 'busy';
    let outcome = 'sent';
    for (const entry of await entries()) {
      if (entry.state !== WAITING) continue;
      let result;
      try {
        result = await send(entry, entry.sent, (n) => update(entry.key, { sent: n }));
      } catch (e) {
        if (!(e instanceof TypeError)) throw e;
        outcome = 'offline'; // fetch() failed: no network; the rest would fail the same way
        break;
      }
      if (result.ok) {
        await remove(entry.key);
      } else if (isTemporary(result.status)) {
        await update(entry.key, { attempts: entry.attempts + 1, message: result.message });
        outcome = 'offline';
        break;
      } else {
        await update(entry.key, { state: REFUSED, attempts: entry.attempts + 1, message: result.message });
      }
      announce();
    }
    announce();
    return outcome;
  };
  if (typeof navigator !== 'undefined' && navigator.locks) {
    return navigator.locks.request(LOCK, { ifAvailable: true }, run);
  }
  return run(true);
}

/** Call `listener()` whenever the outbox changes, in this tab, another one or the worker. */
export function subscribe(listener) {
  const channel = new BroadcastChannel(CHANNEL);
  channel.onmessage = () => listener();
  return () => channel.close();
}

function announce() {
  const channel = new BroadcastChannel(CHANNEL);
  channel.postMessage('changed');
  channel.close();
}
