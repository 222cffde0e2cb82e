/* Keeping in step with the server: the copy of the badge list refreshed every few seconds (a full copy first,
 * then the changes since its cursor), the offline queue uploaded in order, and whether the door is offline.
 *
 * The door is offline from the first request that got no answer (or from the browser saying so) until a
 * request gets one again; while offline, scans are decided from the copy at once, without trying the server.
 */

import { Unreachable, isRetryable, request } from "./api.js";
import * as store from "./store.js";

/** A snapshot can be a few MB for a large event: it gets longer than a scan to arrive. */
const SNAPSHOT_TIMEOUT_MS = 20000;

/** Where "offline since" survives a reload of the page while the network is down. */
const OFFLINE_SINCE = "lanyard-door-offline-since";

function remembered() {
  const since = new Date(sessionStorage.getItem(OFFLINE_SINCE) || "");
  return Number.isNaN(since.getTime()) ? null : since;
}

/** How a scan changes the number of people inside: +1 for an admitted entry, -1 for an exit. */
function delta(body) {
  const result = body.offline_result || body.result;
  if (result !== "admit") return 0;
  return body.direction === "out" ? -1 : 1;
}

export class Sync {
  /** ``onChange`` is called after every change of the copy, the queue or the network status. */
  constructor({ scanUrl, snapshotUrl, periodMs, timeoutMs, offline, onChange }) {
    Object.assign(this, { scanUrl, snapshotUrl, periodMs, timeoutMs, offlineEnabled: offline, onChange });
    this.area = null;
    this.copy = null;
    this.offlineSince = navigator.onLine ? null : remembered() || new Date();
    this.queuedCount = 0;
    this.pendingDelta = 0;  // people in (+) and out (-) by queued scans, not yet in the server's count
    this.running = null;
    this.timer = null;
    window.addEventListener("offline", () => this.wentOffline());
    window.addEventListener("online", () => this.refresh());
  }

  /** Whether scans should be decided here without asking the server first. */
  get offline() {
    return this.offlineSince !== null || !navigator.onLine;
  }

  /** Start keeping the copy of ``area`` (the stored one at once, then from the server). */
  async start(area) {
    this.area = area;
    this.copy = null;
    this.pendingDelta = 0;
    clearInterval(this.timer);
    if (this.offlineEnabled) {
      this.copy = await store.loadCopy(area).catch(() => null);
      const waiting = await store.queued().catch(() => []);
      this.queuedCount = waiting.length;
      this.pendingDelta = waiting.reduce((sum, { body }) => sum + (body.area === area ? delta(body) : 0), 0);
    }
    this.onChange();
    this.timer = setInterval(() => this.refresh(), this.periodMs);
    await this.refresh();
  }

  wentOffline() {
    if (this.offlineSince === null) {
      this.offlineSince = new Date();
      sessionStorage.setItem(OFFLINE_SINCE, this.offlineSince.toISOString());
    }
    this.onChange();
  }

  wentOnline() {
    sessionStorage.removeItem(OFFLINE_SINCE);
    if (this.offlineSince !== null) {
      this.offlineSince = null;
      this.onChange();
    }
  }

  /** Upload the queue, then refresh the copy; one run at a time (a second call waits for the running one). */
  refresh() {
    if (!this.running) {
      this.running = this.run().finally(() => { this.running = null; });
    }
    return this.running;
  }

  async run() {
    if (!navigator.onLine) { this.wentOffline(); return; }
    try {
      if (this.offlineEnabled) await this.upload();
      await this.fetchSnapshot();
      this.wentOnline();
    } catch (error) {
      if (error instanceof Unreachable) this.wentOffline(); else throw error;
    }
  }

  /** Send the queued scans in the order they were made; each is removed only once the server has decided it. */
  async upload() {
    for (const { seq, body } of await store.queued()) {
      const answer = await request("POST", this.scanUrl, { body, timeoutMs: Math.max(this.timeoutMs, 5000) });
      if (answer.status !== 200 && isRetryable(answer)) {
        this.lastRefusal = answer;
        this.onChange();
        return;  // signed out or refused for now: keep the scan, try again later
      }
      // 200, or a refusal no retry changes (a scan the server cannot take): the nonce has been seen or never will be.
      await store.dequeue(seq);
      this.queuedCount = Math.max(0, this.queuedCount - 1);
      if (body.area === this.area) this.pendingDelta -= delta(body);
      if (answer.status === 200 && answer.data.area && body.area === this.area) {
        this.setOccupancy(answer.data.area.occupancy);
      }
      this.onChange();
    }
    this.queuedCount = (await store.queued()).length;
  }

  async fetchSnapshot() {
    const area = this.area;
    const params = new URLSearchParams({ area });
    if (this.offlineEnabled && this.copy && this.copy.cursor) params.set("since", this.copy.cursor);
    const answer = await request("GET", `${this.snapshotUrl}?${params}`, { timeoutMs: SNAPSHOT_TIMEOUT_MS });
    if (answer.status !== 200) {
      this.lastRefusal = answer;
      this.onChange();
      return;
    }
    this.lastRefusal = null;
    if (area !== this.area) return;
    if (this.offlineEnabled) {
      this.copy = await store.saveSnapshot(area, this.copy, answer.data);
    } else {
      this.copy = { area: answer.data.area };  // online only: the area's occupancy and capacity, nothing else
    }
    this.onChange();
  }

  /** Queue a scan decided offline (with its result) for upload. */
  async enqueue(body) {
    await store.enqueue(body);
    this.queuedCount += 1;
    this.pendingDelta += delta(body);
    this.onChange();
  }

  /** People inside as far as this device knows: the server's last count plus the scans not uploaded yet. */
  get occupancy() {
    const counted = this.copy && this.copy.area ? this.copy.area.occupancy || 0 : 0;
    return Math.max(0, counted + this.pendingDelta);
  }

  /** The server's latest count of people inside (from a scan's answer). */
  setOccupancy(occupancy) {
    if (this.copy && this.copy.area && typeof occupancy === "number") this.copy.area.occupancy = occupancy;
  }
}
