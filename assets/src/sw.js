// The service worker of the web-form pages: they open, and send, without a network.
//
// - The bundle (the files of this build, listed at build time in __BUNDLE__) is cached when the
//   worker installs (fonts of scripts other than latin when first used) and served from the
//   cache: its names carry their content's hash, so a cached file is never stale.
// - A page asks the worker to keep its own address, its XForm and its media ({type: 'keep'}).
//   Those are fetched from the network first, so a changed form shows at once, and answered
//   from the cache when the network is down (or takes longer than NETWORK_WAIT).
// - Everything else goes to the network untouched: POSTs, other pages, the API.
// - A background sync ('collect-outbox') sends the outbox even after the tab was closed.
import { flush } from './outbox.js';

const BUNDLE = __BUNDLE__;
const BUNDLE_CACHE = `collect-bundle-${BUNDLE.version}`;
const KEPT_CACHE = 'collect-kept';
const NETWORK_WAIT = 5000;
const bundleFiles = new Set(BUNDLE.files);

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(BUNDLE_CACHE);
      await cache.addAll(BUNDLE.precache);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      // Kept pages name the old bundle's files: fetch them again before those files go.
      await refreshKept();
      for (const name of await caches.keys()) {
        if (name.startsWith('collect-bundle-') && name !== BUNDLE_CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (bundleFiles.has(url.pathname)) {
    event.respondWith(fromBundle(request));
  } else {
    event.respondWith(keptOrNetwork(request));
  }
});

self.addEventListener('message', (event) => {
  const { data } = event;
  if (data?.type !== 'keep' || !Array.isArray(data.urls)) return;
  const reply = event.ports[0];
  event.waitUntil(
    keep(data.urls).then(
      (missing) => reply?.postMessage({ ok: missing.length === 0, missing }),
      (error) => reply?.postMessage({ ok: false, missing: data.urls, error: String(error) }),
    ),
  );
});

self.addEventListener('sync', (event) => {
  if (event.tag === 'collect-outbox') event.waitUntil(flush());
});

async function fromBundle(request) {
  const cache = await caches.open(BUNDLE_CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (isKeepable(response)) await cache.put(request, response.clone());
  return response;
}

async function keptOrNetwork(request) {
  const cache = await caches.open(KEPT_CACHE);
  const cached = await cache.match(request, { ignoreVary: true });
  if (!cached) return fetch(request);
  const fresh = fetch(request).then(async (response) => {
    if (isKeepable(response)) await cache.put(request, response.clone());
    return response;
  });
  fresh.catch(() => {}); // answered from the cache after NETWORK_WAIT; the failure is expected
  try {
    return await Promise.race([fresh, wait(NETWORK_WAIT).then(() => cached)]);
  } catch {
    return cached; // no network
  }
}

/** Fetch and keep each URL; resolves to the ones that could not be fetched. */
async function keep(urls) {
  const cache = await caches.open(KEPT_CACHE);
  const missing = [];
  await Promise.all(
    urls.map(async (url) => {
      try {
        const response = await fetch(url, { credentials: 'same-origin', cache: 'no-cache' });
        if (isKeepable(response)) {
          await cache.put(url, response);
          return;
        }
      } catch {
        // offline: a copy kept on an earlier visit still serves
      }
      if (!(await cache.match(url))) missing.push(url);
    }),
  );
  return missing;
}

async function refreshKept() {
  const cache = await caches.open(KEPT_CACHE);
  const requests = await cache.keys();
  await keep(requests.map((r) => r.url));
}

// A sign-in page after a redirect, an error or a partial response is never kept in place of
// the page, form or file it was asked for.
function isKeepable(response) {
  return response.status === 200 && response.type === 'basic' && !response.redirected;
}

function wait(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
