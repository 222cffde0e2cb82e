/* This device's IndexedDB: the copy of the badge list per area, and the queue of scans decided offline.
 *
 * Stores: "areas" (one record per area: its settings, the cursor, the policy, the void digests), "badges" (one
 * record per valid badge, keyed by [area, digest]) and "queue" (scans waiting to upload, in the order they were
 * made). The copy in memory is {area, cursor, offline_unknown, generated_at, badges: Map, void: Set}.
 */

const NAME = "lanyard-door";
const VERSION = 1;
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
      db.createObjectStore("areas", { keyPath: "name" });
      db.createObjectStore("badges", { keyPath: ["area", "digest"] });
      db.createObjectStore("queue", { keyPath: "seq", autoIncrement: true });
    };
    opening = done(request);
  }
  return opening;
}

function areaRange(area) {
  return IDBKeyRange.bound([area], [area, []]);  // arrays sort after strings: every digest of the area
}

/** The stored copy for ``area``, or null when this device has none. */
export async function loadCopy(area) {
  const db = await open();
  const tx = db.transaction(["areas", "badges"], "readonly");
  const meta = await done(tx.objectStore("areas").get(area));
  if (!meta) return null;
  const rows = await done(tx.objectStore("badges").getAll(areaRange(area)));
  return {
    area: meta.area, cursor: meta.cursor, offline_unknown: meta.offline_unknown, generated_at: meta.generated_at,
    badges: new Map(rows.map((row) => [row.digest, row])), void: new Set(meta.void),
  };
}

/** Apply a snapshot answer to ``copy`` (null: none yet) and store it; returns the new copy. */
export async function saveSnapshot(areaName, copy, snapshot) {
  const full = snapshot.full || !copy;
  const next = full
    ? { badges: new Map(), void: new Set() }
    : { badges: copy.badges, void: copy.void };
  const db = await open();
  const tx = db.transaction(["areas", "badges"], "readwrite");
  const badges = tx.objectStore("badges");
  if (full) badges.delete(areaRange(areaName));
  for (const badge of snapshot.badges) {
    const row = { ...badge, area: areaName };
    next.badges.set(badge.digest, row);
    next.void.delete(badge.digest);
    badges.put(row);
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
  const tx = db.transaction(["areas", "badges"], "readwrite");
  tx.objectStore("areas").clear();
  tx.objectStore("badges").clear();
  await finished(tx);
}
