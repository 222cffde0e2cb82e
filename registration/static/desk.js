// The desk: keyboard-first search results, a keyboard-wedge scanner anywhere on the page, and a case
// queue that never swaps away what a person is typing. Server values come from the page (no copies here).

const SCAN = /^[RB]1[0-9A-HJKMNP-TV-Z]{26}$/i; // a full registration or badge code, as a scanner types it
const SCAN_GAP_MS = 60; // a scanner types faster than this between keys; a person does not

function results() {
  return Array.from(document.querySelectorAll("#results a.result"));
}

function focusResult(index) {
  const links = results();
  if (links.length === 0) return;
  links[Math.max(0, Math.min(index, links.length - 1))].focus();
}

function submitScan(code) {
  const form = document.getElementById("scan-form");
  document.getElementById("scan-code").value = code;
  form.submit();
}

function setUpSearch() {
  const input = document.getElementById("q");
  if (!input) return;
  // Autofocus can lose a race with a fast typist or a slow machine: take the focus, and search for
  // whatever was typed before the page was ready.
  if (document.activeElement === document.body || document.activeElement === null) input.focus();
  const catchUp = () => {
    if (input.value.trim() !== "" && !document.querySelector("#results a.result") && window.htmx) {
      window.htmx.trigger(input, "search");
    }
  };
  // htmx wires the box up on DOMContentLoaded (its listener was added first, so it runs before this one).
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", catchUp);
  else catchUp();
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      focusResult(0);
    } else if (event.key === "Enter") {
      const value = input.value.trim();
      const links = results();
      // A code goes to the server (it opens that card); a name opens the first match at once.
      if (!SCAN.test(value) && links.length > 0) {
        event.preventDefault();
        links[0].click();
      }
    }
  });
  document.getElementById("results").addEventListener("keydown", (event) => {
    const links = results();
    const index = links.indexOf(document.activeElement);
    if (index < 0) return;
    if (event.key === "ArrowDown") { event.preventDefault(); focusResult(index + 1); }
    else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (index === 0) input.focus(); else focusResult(index - 1);
    } else if (event.key === "Escape") { event.preventDefault(); input.focus(); }
  });
}

// Outside any field, a burst of keystrokes ending in Enter is a scanner: open that person's card.
function setUpScanner() {
  let buffer = "";
  let last = 0;
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement
        || target instanceof HTMLSelectElement || event.ctrlKey || event.metaKey || event.altKey) return;
    const now = Date.now();
    if (now - last > SCAN_GAP_MS * 5) buffer = "";
    last = now;
    if (event.key === "Enter") {
      if (SCAN.test(buffer)) { event.preventDefault(); submitScan(buffer); }
      buffer = "";
    } else if (event.key.length === 1) {
      buffer = (buffer + event.key).slice(-40);
    }
  });
}

// The case queue refreshes itself, but never while someone is typing a resolution into it.
function setUpQueue() {
  const queue = document.getElementById("case-queue");
  if (!queue) return;
  queue.addEventListener("htmx:beforeRequest", (event) => {
    const busy = queue.contains(document.activeElement)
      || Array.from(queue.querySelectorAll("input[type=text], input:not([type])")).some((i) => i.value !== "");
    if (busy) event.preventDefault();
  });
}

setUpSearch();
setUpScanner();
setUpQueue();

// Say when the page is ready for a scanner or a typist: htmx wires the page up on DOMContentLoaded.
function markReady() { document.documentElement.dataset.ready = "true"; }
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", markReady);
else markReady();
