/* Carnet's service worker. Served at /sw.js by backend/routes/pwa.py, which puts
   `const CARNET = {version, precache}` in front of this file: the version is a
   hash of the static files, so any release installs a new worker.

   One caching rule per kind of request:
   - /static/…      cache-first (hashed URLs never change; the plain module URLs
                    belong to this release's cache);
   - page loads     network-first, then the page kept from an earlier visit,
                    then the offline page;
   - anything else, and every request that is not a GET (API PUTs, photo
     uploads, forms): the network only, never stored here. Unsent evidence
     lives in the pages' IndexedDB outbox (js/outbox.js), not in this worker. */

const STATIC_CACHE = `carnet-static-${CARNET.version}`;
// Pages are the tutor's data, not the release: kept across releases, refreshed
// at each online visit. A page from an older release still finds its styles
// (see fromStatic's fallback).
const PAGES_CACHE = 'carnet-pages-v1';
const OFFLINE_URL = '/offline';
// With 1 bar of 3G a page load can hang: past this delay the kept copy is shown,
// and the network's answer, when it comes, refreshes it for next time.
const NETWORK_TIMEOUT_MS = 4000;
const MAX_PAGES = 80;
const FRESH_ENOUGH_MS = 10 * 60 * 1000; // prefetch skips pages kept less than this ago
// Never kept: one-time tokens in the URL, or pages meaningless offline.
const NOT_KEPT = [/^\/invitation\//, /^\/login/, /^\/logout/, /^\/api\//, /^\/sw\.js$/];
const SYNC_TAG = 'carnet-outbox';

self.addEventListener('install', (event) => {
  event.waitUntil(precache());
});

async function precache() {
  const cache = await caches.open(STATIC_CACHE);
  await cache.addAll(CARNET.precache); // all or nothing: a half shell never activates
}

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('carnet-static-') && name !== STATIC_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method !== 'GET') {
    if (url.pathname === '/logout' || url.pathname === '/api/v1/session') {
      event.respondWith(logout(event));
    }
    return; // uploads and API writes go straight to the network
  }
  if (url.pathname.startsWith('/static/')) {
    event.respondWith(fromStatic(request));
  } else if (request.mode === 'navigate') {
    event.respondWith(page(event));
  }
});

async function fromStatic(request) {
  const cache = await caches.open(STATIC_CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  try {
    const response = await fetch(request);
    // A hashed URL the server marks immutable (icons…) is kept like the shell, and so is a
    // module left out of the precache (another role's page: kept at first use, offline next).
    const module = new URL(request.url).pathname.startsWith('/static/js/');
    if (response.ok && (module || /immutable/.test(response.headers.get('Cache-Control') || ''))) {
      await cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    // Offline, a page kept from an older release asks for its hashed file:
    // this release's version of the same file is the best answer.
    const sameFile = await cache.match(request, {ignoreSearch: true});
    if (sameFile) return sameFile;
    throw error;
  }
}

function keepable(url, response) {
  const path = new URL(url).pathname;
  return response.ok && response.type === 'basic' && !response.redirected
    && (response.headers.get('Content-Type') || '').startsWith('text/html')
    && !NOT_KEPT.some((pattern) => pattern.test(path));
}

async function keepPage(request, response) {
  const cache = await caches.open(PAGES_CACHE);
  await cache.put(request, response);
  const keys = await cache.keys();
  // Oldest first: trim what exceeds the bound.
  await Promise.all(keys.slice(0, Math.max(0, keys.length - MAX_PAGES)).map((k) => cache.delete(k)));
}

function timeout(ms) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), ms));
}

async function page(event) {
  const request = event.request;
  const kept = await caches.match(request, {cacheName: PAGES_CACHE, ignoreVary: true});
  const network = fetch(request).then((response) => {
    if (keepable(request.url, response)) event.waitUntil(keepPage(request, response.clone()));
    return response;
  });
  event.waitUntil(network.catch(() => null)); // a late answer still refreshes the copy
  try {
    return await (kept ? Promise.race([network, timeout(NETWORK_TIMEOUT_MS)]) : network);
  } catch {
    if (kept) return kept;
    const offline = await caches.match(OFFLINE_URL, {cacheName: STATIC_CACHE});
    return offline || Response.error();
  }
}

/** Logging out forgets the kept pages (personal data), never the outbox. */
async function logout(event) {
  let response;
  try {
    response = await fetch(event.request);
  } catch (error) {
    // Offline: the offline page (the session and the outbox stay), not the browser's error.
    const offline = event.request.mode === 'navigate'
      && await caches.match(OFFLINE_URL, {cacheName: STATIC_CACHE});
    if (offline) return offline;
    throw error;
  }
  if (response.ok || response.type === 'opaqueredirect' || response.status === 303) {
    await caches.delete(PAGES_CACHE);
  }
  return response;
}

/** Fetch and keep pages the tutor will need offline (asked by the page). */
async function keepPages(urls) {
  const cache = await caches.open(PAGES_CACHE);
  for (const path of urls.slice(0, 40)) {
    const url = new URL(path, self.location.origin);
    if (url.origin !== self.location.origin) continue;
    const kept = await cache.match(url.href);
    const age = kept ? Date.now() - Date.parse(kept.headers.get('Date') || 0) : Infinity;
    if (age < FRESH_ENOUGH_MS) continue;
    try {
      const response = await fetch(url.href, {credentials: 'same-origin'});
      if (keepable(url.href, response)) await keepPage(new Request(url.href), response);
    } catch {
      return; // offline: try at the next visit
    }
  }
}

self.addEventListener('message', (event) => {
  const data = event.data || {};
  if (data.type === 'skip-waiting') self.skipWaiting();
  if (data.type === 'keep-pages' && Array.isArray(data.urls)) event.waitUntil(keepPages(data.urls));
});

/** Background Sync (Chromium): the pages hold the outbox logic, so ask an open
 *  one to send; with none open, fail so the browser tries again later (and the
 *  next page load sends anyway). */
self.addEventListener('sync', (event) => {
  if (event.tag === SYNC_TAG) event.waitUntil(askPagesToSync());
});

async function askPagesToSync() {
  const windows = await self.clients.matchAll({type: 'window'});
  if (!windows.length) throw new Error('no page open to send the outbox');
  const answers = windows.map((client) => new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (message) => resolve(Boolean(message.data && message.data.ok));
    client.postMessage({type: 'sync'}, [channel.port2]);
    setTimeout(() => resolve(false), 5 * 60 * 1000);
  }));
  if (!(await Promise.all(answers)).some(Boolean)) throw new Error('outbox not empty yet');
}
