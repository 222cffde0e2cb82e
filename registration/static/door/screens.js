/* What the door page shows: the set-up and scanning sections, the result that fills the screen, the area's
 * occupancy, the network line, and the one live region that tells screen-reader users what happened. */

import { clock, has, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);

/** Show one section (set-up or scanning); the others are hidden. */
export function showSection(name) {
  document.querySelectorAll(".screen").forEach((section) => { section.hidden = section.dataset.screen !== name; });
}

/** Say ``text`` in the live region (emptied first, so the same text twice in a row is heard twice). */
export function announce(text) {
  const region = $("announce");
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 30);
}

export function setPlace(areaLabel, door) {
  $("area-label").textContent = areaLabel;
  $("door-label").textContent = door ? `· ${door}` : "";
}

export function setOccupancy(area, occupancy) {
  const line = $("occupancy");
  if (!area) { line.textContent = ""; return; }
  line.textContent = area.capacity
    ? t("occupancy", { occupancy, capacity: area.capacity })
    : t("occupancy_open", { occupancy });
  line.classList.toggle("is-full", !!area.capacity && occupancy >= area.capacity);
}

/** The network line: online, or offline since when, with the scans waiting to upload and the copy's age. */
export function setNetwork({ offlineSince, queued, copyAt, hasCopy, offlineEnabled, signedOut, language, timeZone }) {
  const line = $("network");
  const parts = signedOut ? [t("signed_out")] : [];
  if (offlineSince) {
    parts.push(t("offline_since", { time: clock(offlineSince, language, timeZone) }));
    if (offlineEnabled && !hasCopy) parts.push(t("no_copy"));
  } else {
    parts.push(t("online"));
  }
  if (queued) parts.push(t("offline_queue", { count: queued }));
  if (offlineEnabled && hasCopy && copyAt) {
    const at = new Date(copyAt);
    if (!Number.isNaN(at.getTime())) parts.push(t("copy_age", { time: clock(at, language, timeZone) }));
  }
  line.textContent = parts.join(" · ");
  line.classList.toggle("is-offline", !!offlineSince || !!signedOut);
}

function fill(id, text) { $(id).textContent = text || ""; }

export function showReady() {
  $("result").className = "result is-ready";
  fill("result-title", t("ready"));
  ["result-name", "result-pass", "result-reason", "result-note"].forEach((id) => fill(id));
}

export function showChecking() {
  $("result").className = "result is-checking";
  fill("result-title", t("checking"));
  ["result-name", "result-pass", "result-reason", "result-note"].forEach((id) => fill(id));
}

/** ADMIT or DENY across the whole screen, with the name and pass, the reason in plain words, and how it was decided. */
export function showResult(answer, { direction, offline }) {
  const admit = answer.result === "admit";
  $("result").className = `result ${admit ? "is-admit" : "is-deny"}${offline ? " is-offline" : ""}`;
  const title = admit && direction === "out" ? t("exit_recorded") : t(admit ? "admit" : "deny");
  fill("result-title", title);
  const person = answer.attendee;
  fill("result-name", person ? person.badge_name : "");
  fill("result-pass", person && person.pass_label ? t("pass", { pass: person.pass_label }) : "");
  let reason = admit ? "" : t(has(answer.reason) ? answer.reason : "other");
  if (answer.reason === "badge_void" && answer.replaced_by_serial) {
    reason += ` ${t("replaced_by", { serial: answer.replaced_by_serial })}`;
  }
  fill("result-reason", reason);
  fill("result-note", admit && answer.unknown ? t("unknown_admitted") : "");
  announce([title, $("result-name").textContent, $("result-pass").textContent, reason, $("result-note").textContent]
    .filter(Boolean).join(". "));
}

/** A scan that got no decision (no answer and no copy, or signed out). */
export function showError(key) {
  $("result").className = "result is-error";
  fill("result-title", t(key));
  ["result-name", "result-pass", "result-reason", "result-note"].forEach((id) => fill(id));
  announce(t(key));
}

export function setDirection(direction) {
  document.querySelectorAll("[data-direction]").forEach((button) => {
    button.setAttribute("aria-pressed", button.dataset.direction === direction ? "true" : "false");
  });
}
