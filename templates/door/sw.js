/* Lanyard door: the service worker that keeps the door page's shell, so a reload without a network still opens it.
 * Rendered by the server (registration/door/views.py): SHELL and VERSION come from there. Only GET requests for the
 * shell are answered from the cache; the API is never cached (decisions offline come from the page's IndexedDB copy).
 */
const VERSION = {{ version|tojson }};
const SHELL = {{ shell|tojson }};
const CACHE = "lanyard-door-" + VERSION;
const PAGE = SHELL[0];

/** The shell's files, and the page itself only as a signed-in user gets it: a worker updated while the browser
 *  is signed out keeps the page it had (the sign-in page must never stand in for the door page offline). */
async function precache() {
  const cache = await caches.open(CACHE);
  await cache.addAll(SHELL.slice(1));
  const page = await fetch(PAGE, { credentials: "same-origin", cache: "no-store" }).catch(() => null);
  if (page && page.ok && !page.redirected) {
    await cache.put(PAGE, page);
    return;
  }
  const previous = await caches.match(PAGE);
  if (previous) await cache.put(PAGE, previous);
}

self.addEventListener("install", (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((names) => Promise.all(
    names.filter((name) => name.startsWith("lanyard-door-") && name !== CACHE).map((name) => caches.delete(name)),
  )).then(() => self.clients.claim()));
});

function isShell(url) {
  return url.origin === self.location.origin && !url.pathname.startsWith("/api/")
    && (url.pathname === PAGE || SHELL.includes(url.pathname));
}

/** Network first (the page carries a fresh CSRF token and the current areas); the cached copy when there is none.
 *  A page that the server answers with a redirect (signed out) is not cached: the cached page stays the signed-in one. */
async function networkFirst(request, url) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected && response.type === "basic") {
      await cache.put(url.pathname === PAGE ? PAGE : request, response.clone());
    }
    return response;
  } catch (error) {
    const cached = await cache.match(url.pathname === PAGE ? PAGE : request, { ignoreSearch: true });
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  if (event.request.method !== "GET") return;
  const url = new URL(event.request.url);
  if (!isShell(url)) return;
  event.respondWith(networkFirst(event.request, url));
});
