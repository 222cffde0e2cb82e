/* This device's IndexedDB: the copy of the badge list per area, and the queue of scans decided offline.
 *
 * Stores: "areas" (one record per area: its settings, the cursor, the policy, the void digests), "chunks" (a
 * full snapshot's badges, a few thousand to a record: 50,000 badges are stored in a fraction of the time one
 * record each would take), "badges" (the changes since, one record per badge keyed by [area, digest], so a
 * change sent twice is stored once) and "queue" (scans waiting to upload, in the order they were made). The copy
 * in memory is {area, cursor, offline_unknown, generated_at, badges: Map, void: Set}.
 */

const NAME = "lanyard-door";
const VERSION = 2;
const CHUNK = 5000;
let opening = null;

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function finished(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = transaction.onabort = () => reject(transaction.error);
  });
}

/** The database, opened (and created) once per page. */
export function open() {
  if (!opening) {
    const request = indexedDB.open(NAME, VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      const stores = { areas: { keyPath: "name" }, chunks: { keyPath: ["area", "n"] },
                       badges: { keyPath: ["area", "digest"] }, queue: { keyPath: "seq", autoIncrement: true } };
      for (const [name, options] of Object.entries(stores)) {
        if (!db.objectStoreNames.contains(name)) db.createObjectStore(name, options);
      }
    };
    opening = done(request);
  }
  return opening;
}

function areaRange(area) {
  return IDBKeyRange.bound([area], [area, []]);  // arrays sort after numbers and strings: all of the area's keys
}

/** The stored copy for ``area``, or null when this device has none. */
export async function loadCopy(area) {
  const db = await open();
  const tx = db.transaction(["areas", "chunks", "badges"], "readonly");
  const meta = await done(tx.objectStore("areas").get(area));
  if (!meta) return null;
  const [chunks, changes] = await Promise.all([done(tx.objectStore("chunks").getAll(areaRange(area))),
                                               done(tx.objectStore("badges").getAll(areaRange(area)))]);
  const badges = new Map();
  for (const chunk of chunks) for (const badge of chunk.badges) badges.set(badge.digest, badge);
  for (const badge of changes) badges.set(badge.digest, badge);
  const voided = new Set(meta.void);
  for (const digest of voided) badges.delete(digest);
  return {
    area: meta.area, cursor: meta.cursor, offline_unknown: meta.offline_unknown, generated_at: meta.generated_at,
    badges, void: voided,
  };
}

/** Apply a snapshot answer to ``copy`` (null: none yet) and store it; returns the new copy. */
export async function saveSnapshot(areaName, copy, snapshot) {
  const full = snapshot.full || !copy;
  const next = full
    ? { badges: new Map(), void: new Set() }
    : { badges: copy.badges, void: copy.void };
  const db = await open();
  const tx = db.transaction(["areas", "chunks", "badges"], "readwrite");
  const badges = tx.objectStore("badges");
  if (full) {
    const chunks = tx.objectStore("chunks");
    chunks.delete(areaRange(areaName));
    badges.delete(areaRange(areaName));
    for (let n = 0; n * CHUNK < snapshot.badges.length; n += 1) {
      chunks.put({ area: areaName, n, badges: snapshot.badges.slice(n * CHUNK, (n + 1) * CHUNK) });
    }
  }
  for (const badge of snapshot.badges) {
    next.badges.set(badge.digest, badge);
    next.void.delete(badge.digest);
    if (!full) badges.put({ ...badge, area: areaName });
  }
  for (const digest of snapshot.void) {
    next.void.add(digest);
    if (next.badges.delete(digest)) badges.delete([areaName, digest]);
  }
  Object.assign(next, {
    area: snapshot.area, cursor: snapshot.cursor, offline_unknown: snapshot.offline_unknown,
    generated_at: snapshot.generated_at,
  });
  tx.objectStore("areas").put({
    name: areaName, area: next.area, cursor: next.cursor, offline_unknown: next.offline_unknown,
    generated_at: next.generated_at, void: Array.from(next.void),
  });
  await finished(tx);
  return next;
}

/** Put a scan decided offline at the end of the queue. */
export async function enqueue(body) {
  const db = await open();
  const tx = db.transaction("queue", "readwrite");
  tx.objectStore("queue").add({ body });
  await finished(tx);
}

/** Every queued scan, oldest first: ``[{seq, body}]``. */
export async function queued() {
  const db = await open();
  return done(db.transaction("queue", "readonly").objectStore("queue").getAll());
}

/** Remove one queued scan once the server has it. */
export async function dequeue(seq) {
  const db = await open();
  const tx = db.transaction("queue", "readwrite");
  tx.objectStore("queue").delete(seq);
  await finished(tx);
}

/** Forget every copy of the badge list (signing out); queued scans stay, to upload at the next sign-in. */
export async function clearCopies() {
  const db = await open();
  const tx = db.transaction(["areas", "chunks", "badges"], "readwrite");
  tx.objectStore("areas").clear();
  tx.objectStore("chunks").clear();
  tx.objectStore("badges").clear();
  await finished(tx);
}
