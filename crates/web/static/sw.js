// Tracemark service worker, served at /sw.js (scope /). The server fills in VERSION (a
// hash of the page's files and offline shells) and PRECACHE (their URLs).
//
// - Precaches the shell: the page's CSS, script, icon and the offline page in Russian
//   and English. A new VERSION is a new cache; the old ones are deleted on activation.
// - Verification links (/01/{gtin}/21/{serial}…): network first; when the network is
//   down, the offline page, which reads the code from the address and checks the
//   label's signature with the saved keys.
// - The published keys: stale-while-revalidate (answer from the cache at once, marked
//   X-Tracemark-Cached: 1, and refresh it); a request with X-Tracemark-Fresh: 1 goes
//   to the network first.
'use strict';

const VERSION = "__VERSION__";
const SHELL = 'tracemark-shell-' + VERSION;
const KEYS_CACHE = 'tracemark-keys-v1';
const KEYS_PATH = '/.well-known/tracemark-keys';
const PRECACHE = [/*__PRECACHE__*/];
const CODE_PATH = /\/01\/\d{8,14}\/21\/[^/]+\/?$/;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((c) => c.addAll(PRECACHE.map((u) => new Request(u, { cache: 'reload' }))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((n) => n.startsWith('tracemark-shell-') && n !== SHELL)
            .map((n) => caches.delete(n))
        )
      )
      .then(() => self.clients.claim())
  );
});

// The offline page's language: the link's ?lang=, else the browser's first Russian or
// English preference, else Russian (as the server decides).
function shellLang(url) {
  const m = url.search.match(/[?&]lang=(ru|en)(&|$)/);
  if (m) return m[1];
  for (const l of self.navigator.languages || []) {
    const p = String(l).toLowerCase().split('-')[0];
    if (p === 'ru' || p === 'en') return p;
  }
  return 'ru';
}

async function offlineShell(url) {
  const cache = await caches.open(SHELL);
  const hit = await cache.match('/offline?lang=' + shellLang(url), { ignoreVary: true });
  return hit || Response.error();
}

function marked(response) {
  const h = new Headers(response.headers);
  h.set('X-Tracemark-Cached', '1');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: h });
}

async function keys(event) {
  const cache = await caches.open(KEYS_CACHE);
  const cached = await cache.match(KEYS_PATH, { ignoreVary: true });
  const network = fetch(event.request.url, { cache: 'no-store' }).then((r) => {
    if (r.ok) return cache.put(KEYS_PATH, r.clone()).then(() => r);
    return r;
  });
  const fresh = event.request.headers.get('X-Tracemark-Fresh') === '1';
  if (cached && !fresh) {
    event.waitUntil(network.catch(() => undefined));
    return marked(cached);
  }
  try {
    return await network;
  } catch (e) {
    if (cached) return marked(cached);
    throw e;
  }
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === 'navigate' && CODE_PATH.test(url.pathname)) {
    event.respondWith(fetch(req).catch(() => offlineShell(url)));
    return;
  }
  if (url.pathname === KEYS_PATH) {
    event.respondWith(keys(event));
    return;
  }
  if (PRECACHE.includes(url.pathname + url.search)) {
    event.respondWith(
      caches.open(SHELL).then((c) => c.match(req, { ignoreVary: true })).then((hit) => hit || fetch(req))
    );
  }
});
