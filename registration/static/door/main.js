/* Lanyard door page: choose the area and the door, then scan badges: ADMIT or DENY, online or, when the server
 * does not answer in time, from this device's copy of the badge list (queued and uploaded once back online).
 *
 * Everything the page needs comes from the server-rendered page: addresses and timings as data attributes of
 * #door, messages and areas in JSON blocks. The area and the door's name are remembered in localStorage; the
 * copy and the queue are in IndexedDB (store.js); the service worker keeps the page itself (/door/sw.js).
 * After each decision #door carries data-decision-ms (scan to result, in ms) and "door:decided" is dispatched.
 */

import { errorCode, newNonce, request, Unreachable } from "./api.js";
import * as feedback from "./feedback.js";
import { decide } from "./offline.js";
import { Camera, cameraPossible, keepFocus, listenToWedge } from "./scanner.js";
import * as screens from "./screens.js";
import { Machine } from "./state.js";
import * as store from "./store.js";
import { Sync } from "./sync.js";
import { t } from "./i18n.js";

const root = document.getElementById("door");
const cfg = root.dataset;
const AREAS = JSON.parse(document.getElementById("door-areas").textContent);
const PASS_LABELS = JSON.parse(document.getElementById("door-pass-labels").textContent);
const SETUP_KEY = "lanyard-door";
const RESULT_MS = 4000;  // a result stays on screen this long unless the next badge comes first
// Service workers, crypto.subtle and the camera exist only in a secure context (HTTPS or localhost).
const OFFLINE = window.isSecureContext && !!(window.indexedDB && window.crypto && crypto.subtle);

const machine = new Machine(root);
const $ = (id) => document.getElementById(id);
const scanInput = $("scan-input");
let place = null;         // {area, door}
let direction = "in";
let resultTimer = null;
let scanning = Promise.resolve();
const inside = new Set();  // badges this device let in offline and not out (areas without re-entry)

const sync = new Sync({
  scanUrl: cfg.scanUrl, snapshotUrl: cfg.snapshotUrl, periodMs: Number(cfg.snapshotSeconds) * 1000,
  timeoutMs: Number(cfg.offlineAfterMs), offline: OFFLINE, onChange: render,
});

function areaOf(name) { return AREAS.find((area) => area.name === name); }

function render() {
  const area = sync.copy && sync.copy.area;
  // The network state, for tests and measurements: what the line below says, in no language.
  root.dataset.network = sync.offline ? "offline" : "online";
  root.dataset.copy = sync.copy && sync.copy.badges ? "ready" : "none";
  root.dataset.queued = String(sync.queuedCount);
  screens.setOccupancy(area, sync.occupancy);
  screens.setNetwork({
    offlineSince: sync.offline ? (sync.offlineSince || new Date()) : null, queued: sync.queuedCount,
    copyAt: sync.copy && sync.copy.generated_at, hasCopy: !!(sync.copy && sync.copy.badges),
    offlineEnabled: OFFLINE, signedOut: !!(sync.lastRefusal && sync.lastRefusal.status === 401),
    language: cfg.language, timeZone: cfg.timezone,
  });
}

/* ---------- set-up: area and door name ---------- */

function remembered() {
  try {
    const saved = JSON.parse(localStorage.getItem(SETUP_KEY) || "null");
    return saved && areaOf(saved.area) && saved.door ? saved : null;
  } catch (error) {
    return null;
  }
}

function openSetup() {
  stopCamera();
  const saved = remembered();
  if (saved) {
    $("area-select").value = saved.area;
    $("door-name").value = saved.door;
  }
  machine.go("setup");
  screens.showSection("setup");
  $("setup-title").focus();
}

function saveSetup(event) {
  event.preventDefault();
  const door = $("door-name").value.trim();
  const area = $("area-select").value;
  if (!door || !areaOf(area)) {
    $("setup-error").textContent = $("door-name").validationMessage || t("other");
    $("door-name").focus();
    return;
  }
  $("setup-error").textContent = "";
  localStorage.setItem(SETUP_KEY, JSON.stringify({ area, door }));
  startScanning({ area, door });
}

function startScanning(chosen) {
  place = chosen;
  screens.setPlace(areaOf(place.area).label, place.door);
  screens.showReady();
  screens.showSection("scan");
  machine.go("ready");
  scanInput.focus();
  sync.start(place.area).catch(() => sync.wentOffline());
}

/* ---------- scanning ---------- */

function passLabel(attendee) {
  if (!attendee) return attendee;
  return { ...attendee, pass_label: PASS_LABELS[attendee.pass] || attendee.pass_label };
}

function onCode(code) {
  feedback.unlock();
  if (!place || machine.state === "setup" || machine.state === "loading") return;
  // One scan at a time, in the order they came: a badge scanned while the one before is still being checked
  // waits for that answer, then gets its own.
  scanning = scanning.then(() => check(code));
}

async function check(code) {
  if (!machine.can("checking")) return;  // the door person went to set-up meanwhile: a new area, a new scan
  const started = performance.now();
  clearTimeout(resultTimer);
  machine.go("checking");
  screens.showChecking();
  try {
    await decideScan(code, started);
  } catch (error) {
    // Never stuck on "Checking…": a scan that could not be decided says so, and the next one is welcome.
    if (machine.state === "checking") finish(started, "no_answer");
    console.error(error);
  }
}

async function decideScan(code, started) {
  const body = { code, area: place.area, nonce: newNonce(), direction, door: place.door };
  let answer = null;
  if (!sync.offline) {
    try {
      const reply = await request("POST", cfg.scanUrl, { body, timeoutMs: Number(cfg.offlineAfterMs) });
      if (reply.status === 200) {
        answer = reply.data;
        if (answer.area) sync.setOccupancy(answer.area.occupancy);
      } else {
        finish(started, reply.status === 401 || errorCode(reply) === "csrf_failed" ? "signed_out" : "other");
        return;
      }
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      sync.wentOffline();
    }
  }
  if (!answer) {
    if (!OFFLINE || !sync.copy || !sync.copy.badges) { finish(started, OFFLINE ? "no_copy" : "no_answer"); return; }
    const decidedAt = new Date();
    answer = await decide(sync.copy, code, {
      direction, now: decidedAt.getTime(), timeZone: cfg.timezone,
      local: { occupancy: sync.occupancy, inside },
    });
    show(answer, true, performance.now() - started);
    if (answer.result === "admit" && answer.digest) {
      if (direction === "in") inside.add(answer.digest); else inside.delete(answer.digest);
    }
    await sync.enqueue({ ...body, scanned_at: decidedAt.toISOString(), offline: true, offline_result: answer.result });
    render();
    return;
  }
  show(answer, false, performance.now() - started);
  render();
}

function show(answer, offline, decisionMs) {
  const shown = { ...answer, attendee: passLabel(answer.attendee) };
  machine.go(answer.result === "admit" ? "admit" : "deny");
  screens.showResult(shown, { direction, offline });
  feedback.signal(answer.result);
  root.dataset.decisionMs = decisionMs.toFixed(2);
  document.dispatchEvent(new CustomEvent("door:decided", {
    detail: { result: answer.result, reason: answer.reason, offline, ms: decisionMs },
  }));
  holdResult();
}

/** No decision: say why (no answer and no copy, signed out, or a refusal of the request itself). */
function finish(started, key) {
  machine.go("error");
  screens.showError(key);
  root.dataset.decisionMs = (performance.now() - started).toFixed(2);
  feedback.signal("deny");
  holdResult();
}

function holdResult() {
  clearTimeout(resultTimer);
  resultTimer = setTimeout(() => {
    if (machine.can("ready") && machine.state !== "setup") {
      machine.go("ready");
      screens.showReady();
    }
  }, RESULT_MS);
}

/* ---------- direction and camera ---------- */

function setDirection(next) {
  direction = next;
  screens.setDirection(next);
}

const camera = new Camera($("camera-video"), cfg.jsqrUrl, onCode);

async function toggleCamera() {
  const button = $("camera-toggle");
  if (camera.on) { stopCamera(); return; }
  try {
    await camera.start();
    button.textContent = t("camera_on");
  } catch (error) {
    stopCamera();
    $("result-note").textContent = t("camera_failed");
    screens.announce(t("camera_failed"));
  }
}

function stopCamera() {
  camera.stop();
  $("camera-toggle").textContent = t("camera_off");
}

/* ---------- wiring ---------- */

async function signOut(event) {
  // A shared device keeps no badge list after its door person signs out (queued scans stay to upload); the
  // form is sent once the copy is gone, so leaving the page cannot cut the deletion short.
  event.preventDefault();
  const form = event.currentTarget;
  if (OFFLINE) await store.clearCopies().catch(() => {});
  localStorage.removeItem(SETUP_KEY);
  form.submit();
}

function registerServiceWorker() {
  if (!OFFLINE || !("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register(cfg.swUrl, { scope: cfg.swScope }).catch(() => {
    // Without it a reload needs the network; scans are still decided offline while the page stays open.
  });
}

$("setup-form").addEventListener("submit", saveSetup);
listenToWedge($("scan-form"), scanInput, onCode);
keepFocus(scanInput, () => machine.scanning || machine.state === "checking");
document.querySelectorAll("[data-direction]").forEach((button) => {
  button.addEventListener("click", () => setDirection(button.dataset.direction));
});
$("change-door").addEventListener("click", () => {
  if (!machine.can("setup")) return;  // a scan is being decided: its answer comes first
  clearTimeout(resultTimer);
  openSetup();
});
$("camera-toggle").addEventListener("click", toggleCamera);
$("sign-out").addEventListener("submit", signOut);
document.addEventListener("keydown", () => feedback.unlock(), true);
document.addEventListener("pointerdown", () => feedback.unlock(), true);

$("insecure-notice").hidden = window.isSecureContext;
$("camera-toggle").hidden = !cameraPossible();
registerServiceWorker();
const saved = remembered();
if (saved) startScanning(saved); else openSetup();
