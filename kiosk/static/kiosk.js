/* Lanyard kiosk: scan (keyboard-wedge scanner or camera) or find me by name -> check in -> print.
 *
 * Everything the page needs comes from the server-rendered page: API addresses and time-outs as
 * data attributes of #kiosk, every message in every language in the #kiosk-messages JSON block.
 * Nothing is written to localStorage, sessionStorage, IndexedDB or cookies; a reset empties every
 * element that held personal data. Each screen change dispatches a "kiosk:screen" event on the
 * document (detail: {screen}) for tests and measurements.
 */
(function () {
  "use strict";

  var root = document.getElementById("kiosk");
  if (!root) return;
  var cfg = root.dataset;
  var MESSAGES = JSON.parse(document.getElementById("kiosk-messages").textContent);
  var PASS_LABELS = JSON.parse(document.getElementById("kiosk-pass-labels").textContent);
  var PASS_ACCESS = JSON.parse(document.getElementById("kiosk-pass-access").textContent);
  var PRINTER_LOCATIONS = JSON.parse(document.getElementById("kiosk-printer-locations").textContent);
  var CSRF = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var DEFAULT_LANGUAGE = cfg.language;
  var IDLE_MS = Number(cfg.idleSeconds) * 1000;
  var WARNING_SECONDS = Number(cfg.warningSeconds);
  var DONE_MS = Number(cfg.doneSeconds) * 1000;
  var POLL_MS = Number(cfg.pollMs);
  var HEARTBEAT_MS = Number(cfg.heartbeatSeconds) * 1000;
  // A scanner types a whole code in well under a second; a longer pause starts a new code, so a
  // stray key pressed earlier does not spoil the next scan.
  var SCAN_GAP_MS = 1500;
  var SCAN_MAX = 128;  // the server refuses anything over 64 characters anyway
  var RETRY_DELAYS_MS = [300, 1000, 2500];
  var REQUEST_TIMEOUT_MS = 10000;
  var FINAL_JOB_STATES = { printed: 1, failed: 1, needs_decision: 1, cancelled: 1 };
  // The states, each shown by one section (a state not listed here has a section of its own name):
  // "printing" waits for the printer and ends in "done" (printed), "print_failed" or "attention".
  var SECTIONS = { done: "printing", print_failed: "printing", attention: "printing" };
  // Screens with an answer for the person who just left them: back to the start after done_seconds, so the
  // next person in the lobby never reads "Welcome, NAME — please go to the desk".
  var RESULT_SCREENS = { done: 1, print_failed: 1, attention: 1, already: 1, desk: 1, invalid: 1, error: 1,
                         unavailable: 1 };
  // Screens where a scan is welcome: nobody is typing there and no badge is on its way.
  var SCAN_SCREENS = { start: 1, invalid: 1, already: 1, desk: 1, error: 1, unavailable: 1, done: 1,
                       print_failed: 1, attention: 1 };
  // A typed code is shown as the email prints it: R1-XXXX-XXXX-…
  var CODE_GROUP = 4;
  var CODE_PREFIX = 2;

  var language = DEFAULT_LANGUAGE;
  var screen = "start";
  var generation = 0;          // bumped by every reset: answers for an older generation are dropped
  var timers = {};             // named timeouts, all cleared by a reset
  var scanBuffer = "";
  var lastKeyAt = 0;
  var activeField = null;
  var attendee = null;         // the person on the printing screen, until the next reset
  var cameraStream = null;
  var idleDialog = document.getElementById("idle-dialog");

  function $(id) { return document.getElementById(id); }

  function t(key, fields) {
    var table = MESSAGES[language] || MESSAGES[DEFAULT_LANGUAGE];
    var text = table[key];
    if (text === undefined) text = MESSAGES.en ? MESSAGES.en[key] : key;
    return String(text).replace(/\{(\w+)\}/g, function (match, name) {
      return fields && fields[name] !== undefined && fields[name] !== null ? String(fields[name]) : match;
    });
  }

  function setTimer(name, fn, ms) {
    clearTimeout(timers[name]);
    timers[name] = setTimeout(fn, ms);
  }

  function clearTimers() {
    Object.keys(timers).forEach(function (name) { clearTimeout(timers[name]); clearInterval(timers[name]); });
    timers = {};
  }

  function announce(text) {
    var region = $("announce");
    region.textContent = "";
    // A separate task, so that screen readers hear the same text twice in a row too.
    setTimeout(function () { region.textContent = text; }, 50);
  }

  /* ---------- language ---------- */

  function applyLanguage() {
    document.documentElement.lang = language;
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll("[data-i18n-label]").forEach(function (el) {
      el.setAttribute("aria-label", t(el.dataset.i18nLabel));
    });
    document.querySelectorAll(".lang").forEach(function (button) {
      button.setAttribute("aria-pressed", button.dataset.lang === language ? "true" : "false");
    });
    document.title = document.title.replace(/ · .*$/, " · " + t("title"));
  }

  function setLanguage(code) {
    if (!MESSAGES[code] || code === language) return;
    language = code;
    applyLanguage();
    armIdle();
  }

  function passLabel(attendee) {
    if (language === "es" && attendee.pass_label_es) return attendee.pass_label_es;
    return attendee.pass_label;
  }

  /** Where a printer stands, in the current language; null when the settings do not say. */
  function printerLocation(printer) {
    var where = PRINTER_LOCATIONS[printer];
    return where ? (where[language] || where.en) : null;
  }

  /** Black or white, whichever reads better on ``hex`` (#RRGGBB): at least 4.5:1 for any colour. */
  function textOn(hex) {
    var channels = [1, 3, 5].map(function (i) {
      var c = parseInt(hex.substr(i, 2), 16) / 255;
      return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
    return (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) ? "#000000" : "#ffffff";
  }

  function translatedPassLabel(label) {
    var known = PASS_LABELS[label];
    return known ? (known[language] || label) : label;
  }

  /* ---------- screens ---------- */

  function show(name, focusTarget) {
    var sectionName = SECTIONS[name] || name;
    var sameSection = (SECTIONS[screen] || screen) === sectionName;
    document.querySelectorAll(".screen").forEach(function (section) {
      section.hidden = section.dataset.screen !== sectionName;
    });
    screen = name;
    root.dataset.state = name;  // the state, for tests and measurements (the script is running from here on)
    scanBuffer = "";
    var section = document.querySelector('.screen[data-screen="' + sectionName + '"]');
    var target = focusTarget || (section && section.querySelector("h1"));
    // A new answer on the same section is announced, not refocused.
    if (target && !sameSection) target.focus({ preventScroll: true });
    if (RESULT_SCREENS[name]) setTimer("done", reset, DONE_MS); else clearTimeout(timers.done);
    armIdle();
    document.dispatchEvent(new CustomEvent("kiosk:screen", { detail: { screen: name } }));
  }

  /** Back to the start screen, forgetting everything about the last person (and, unless kept, the language). */
  function reset(keepLanguage) {
    var chosen = keepLanguage === true ? language : DEFAULT_LANGUAGE;
    generation += 1;
    clearTimers();
    stopCamera();
    if (idleDialog.open) idleDialog.close();
    document.querySelectorAll(".personal").forEach(function (el) {
      if (el.tagName === "INPUT") el.value = ""; else el.textContent = "";
    });
    ["print-headline", "print-state", "desk-title", "desk-message", "desk-case", "invalid-message",
     "lookup-error", "code-error", "camera-message", "announce", "idle-countdown"].forEach(function (id) {
      $(id).textContent = "";
    });
    var band = $("pass-label");
    band.style.backgroundColor = band.style.color = band.style.borderColor = "";
    attendee = null;
    $("results-title").dataset.i18n = "results_title";
    $("search-again").dataset.i18n = "not_me";
    setLayout("latin");
    var preview = $("badge-preview");
    preview.onload = preview.onerror = null;
    preview.removeAttribute("src");
    preview.classList.add("is-loading");
    preview.hidden = false;
    $("print-status").className = "print-status";
    $("results").replaceChildren();
    $("no-match").hidden = true;
    activeField = null;
    language = chosen;
    applyLanguage();
    show("start");
    heartbeat();
  }

  /* ---------- idle ---------- */

  function needsIdleReset() {
    return screen !== "start" || language !== DEFAULT_LANGUAGE;
  }

  function armIdle() {
    clearTimeout(timers.idle);
    if (screen === "out" || idleDialog.open || !needsIdleReset()) return;
    setTimer("idle", showIdleWarning, IDLE_MS);
  }

  function showIdleWarning() {
    var left = WARNING_SECONDS;
    var countdown = $("idle-countdown");
    countdown.textContent = t("idle_countdown", { seconds: left });
    idleDialog.showModal();
    $("still-here").focus();
    clearInterval(timers.countdown);
    timers.countdown = setInterval(function () {
      left -= 1;
      if (left <= 0) { reset(); return; }
      countdown.textContent = t("idle_countdown", { seconds: left });
    }, 1000);
  }

  function stillHere() {
    clearInterval(timers.countdown);
    if (idleDialog.open) idleDialog.close();
    $("idle-countdown").textContent = "";
    armIdle();
  }

  function activity() {
    if (idleDialog.open) stillHere(); else armIdle();
  }

  /* ---------- talking to the server ---------- */

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  /** One request; a network error or a 5xx is retried a few times (the nonce makes a retried check-in harmless). */
  function request(method, url, body) {
    var attempt = 0;
    function once() {
      var controller = new AbortController();
      var timeout = setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
      var options = {
        method: method, credentials: "same-origin", cache: "no-store", signal: controller.signal,
        headers: { "Accept": "application/json", "X-CSRFToken": CSRF },
      };
      if (body !== undefined) {
        options.headers["Content-Type"] = "application/json";
        options.body = JSON.stringify(body);
      }
      return fetch(url, options).then(function (response) {
        clearTimeout(timeout);
        if (response.status >= 500) {
          return response.json().catch(function () { return {}; }).then(function (data) {
            var error = new Error("server " + response.status);
            error.code = data && data.error && data.error.code;
            throw error;
          });
        }
        return response.json().catch(function () { return {}; }).then(function (data) {
          return { status: response.status, data: data };
        });
      }).catch(function (error) {
        clearTimeout(timeout);
        if (attempt >= RETRY_DELAYS_MS.length) throw error;
        return sleep(RETRY_DELAYS_MS[attempt++]).then(once);
      });
    }
    return once();
  }

  /** An answer that is not a decision: the kiosk was switched off, unbound, or the page is stale. */
  function handleRefusal(answer) {
    var code = answer.data && answer.data.error && answer.data.error.code;
    if (answer.status === 403 && code === "kiosk_disabled") { outOfService(); return true; }
    if (answer.status === 401 || code === "csrf_failed") { window.location.reload(); return true; }
    return false;
  }

  function newNonce() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function heartbeat() {
    // Notices a kiosk disabled at the desk while nobody is scanning, and keeps "last seen" fresh.
    setTimer("heartbeat", function () {
      var mine = generation;
      request("GET", cfg.statusUrl).then(function (answer) {
        if (mine === generation) handleRefusal(answer);
      }).catch(function () { /* offline for a moment: the next scan will tell */ });
      if (mine === generation) heartbeat();
    }, HEARTBEAT_MS);
  }

  function outOfService() {
    generation += 1;
    clearTimers();
    stopCamera();
    if (idleDialog.open) idleDialog.close();
    show("out");
    // The server page for a disabled kiosk looks again every minute and returns when it is enabled.
    setTimer("reload", function () { window.location.reload(); }, HEARTBEAT_MS);
  }

  /* ---------- check-in ---------- */

  function checkIn(body) {
    reset(true);
    var mine = generation;
    body.nonce = newNonce();
    show("working");
    request("POST", cfg.checkinUrl, body).then(function (answer) {
      if (mine !== generation) return;
      if (answer.status === 200 && answer.data.result) { decide(answer.data); return; }
      if (!handleRefusal(answer)) showError();
    }).catch(function (error) {
      if (mine === generation) showError(error);
    });
  }

  function decide(answer) {
    if (answer.result === "checked_in") showPrinting(answer);
    else if (answer.result === "already_checked_in") showAlready(answer);
    else if (answer.result === "needs_desk") showDesk(answer);
    else showInvalid(answer.reason);
  }

  /** A request failed for good: the storage being unavailable has its own screen (go to the desk). */
  function showError(error) {
    if (error && error.code === "storage_unavailable") {
      show("unavailable");
      announce(t("unavailable") + ". " + t("unavailable_hint"));
      return;
    }
    show("error");
    announce(t("error"));
  }

  function printingText(printer) {
    var where = printerLocation(printer);
    return where ? t("printing_at", { location: where }) : t("printing");
  }

  function showPrinting(answer) {
    var job = answer.print_job;
    attendee = answer.attendee;
    $("welcome-name").textContent = t("welcome_name", { name: attendee.badge_name });
    var band = $("pass-label");
    band.textContent = passLabel(attendee);
    if (/^#[0-9a-fA-F]{6}$/.test(attendee.band_color || "")) {
      band.style.backgroundColor = band.style.borderColor = attendee.band_color;
      band.style.color = textOn(attendee.band_color);
    }
    $("print-headline").textContent = printingText(job.printer);
    $("print-state").textContent = stateText(job.state);
    var preview = $("badge-preview");
    preview.alt = t("preview_alt");
    preview.onload = function () { preview.classList.remove("is-loading"); };
    preview.onerror = function () { preview.hidden = true; };
    preview.src = job.preview_url;
    show("printing");
    announce(t("welcome_name", { name: attendee.badge_name }) + ". " + $("print-headline").textContent);
    pollJob(job, job.printer, generation);
  }

  function pollJob(job, printer, mine) {
    setTimer("poll", function () {
      request("GET", job.url).then(function (answer) {
        if (mine !== generation) return;
        if (answer.status !== 200) {
          if (!handleRefusal(answer) && answer.status >= 500) pollJob(job, printer, mine);
          return;
        }
        var current = answer.data.print_job;
        showJob(current, printer);
        if (!FINAL_JOB_STATES[current.state]) pollJob(current, printer, mine);
      }).catch(function () {
        if (mine === generation) pollJob(job, printer, mine);
      });
    }, POLL_MS);
  }

  function stateText(state) {
    return MESSAGES.en["state_" + state] !== undefined ? t("state_" + state) : "";
  }

  function showJob(job, printer) {
    var status = $("print-status");
    var headline = $("print-headline");
    var state = $("print-state");
    var before = headline.textContent + "|" + state.textContent;
    var next = "printing";
    status.className = "print-status";
    if (job.state === "printed") {
      status.classList.add("is-done");
      if (job.printer === printer) {
        headline.textContent = t("printed");
        // A pass that opens only some areas says which, in words, not "enjoy the conference".
        var areas = attendee && PASS_ACCESS[attendee.pass];
        state.textContent = areas ? t("printed_pass", { areas: areas[language] || areas[DEFAULT_LANGUAGE] })
          : t("printed_hint");
      } else {
        // Never a printer's internal name: where it stands, or the desk.
        var where = printerLocation(job.printer);
        headline.textContent = t("state_printed");
        state.textContent = where ? t("printed_elsewhere", { location: where }) : t("printed_elsewhere_unknown");
      }
      next = "done";
    } else if (job.state === "failed" || job.state === "cancelled" || job.state === "needs_decision") {
      status.classList.add("is-alert");
      headline.textContent = t(job.state === "needs_decision" ? "print_unsure" : "print_failed");
      state.textContent = "";
      next = "print_failed";
    } else if (job.attention) {
      status.classList.add("is-alert");
      var other = job.alternative;
      // Another kiosk by where it stands, never by its internal name.
      headline.textContent = !other ? t("attention_desk")
        : other.location ? t("attention", { location: other.location }) : t("attention_other");
      state.textContent = stateText(job.state);
      next = "attention";
    } else {
      headline.textContent = printingText(job.printer);
      state.textContent = stateText(job.state);
    }
    var changed = headline.textContent + "|" + state.textContent !== before;
    // A changed answer is a new state (its done timer starts again) or news on this one.
    if (next !== screen || (changed && RESULT_SCREENS[next])) show(next);
    if (changed) {
      announce(headline.textContent + " " + state.textContent);
      armIdle();
    }
  }

  function showDesk(answer) {
    var health = answer.go_to === "health_desk";
    $("desk-title").textContent = t(health ? "go_health_desk" : "go_registration_desk");
    $("desk-name").textContent = answer.attendee ? t("welcome_name", { name: answer.attendee.badge_name }) : "";
    var reason = health ? "health_not_cleared" : answer.reason;  // never more health detail than that
    $("desk-message").textContent = MESSAGES.en[reason] ? t(reason) : "";
    $("desk-case").textContent = answer.desk_case ? t("desk_case", { id: answer.desk_case.id }) : "";
    show("desk");
    announce($("desk-title").textContent + ". " + $("desk-message").textContent);
  }

  var INVALID_REASONS = { code_malformed: 1, code_unknown: 1, code_superseded: 1, wrong_code_kind: 1,
                          wrong_event: 1, selection_invalid: 1 };

  function showInvalid(reason) {
    $("invalid-message").textContent = t(INVALID_REASONS[reason] ? reason : "invalid_other");
    show("invalid");
    announce(t("invalid_title") + ". " + $("invalid-message").textContent);
  }

  /** Where a badge was printed, as attendees are told: a kiosk's location, never its internal name. */
  function printedWhere(checkedIn) {
    if (!checkedIn || !checkedIn.kiosk) return t("elsewhere");  // a check-in at the desk
    if (checkedIn.location) return checkedIn.location;
    return t(checkedIn.kiosk === cfg.kiosk ? "this_kiosk" : "another_kiosk");
  }

  function formatWhen(iso) {
    var at = new Date(iso);
    if (isNaN(at.getTime())) return iso;
    var options = { weekday: "long", month: "long", day: "numeric", hour: "numeric", minute: "2-digit" };
    try {
      return new Intl.DateTimeFormat(language, Object.assign({ timeZone: cfg.timezone }, options)).format(at);
    } catch (error) {  // an unknown time zone: the kiosk's own clock is the next best thing
      return new Intl.DateTimeFormat(language, options).format(at);
    }
  }

  function showAlready(answer) {
    var where = printedWhere(answer.checked_in);
    $("already-name").textContent = answer.attendee ? t("welcome_name", { name: answer.attendee.badge_name }) : "";
    $("already-when").textContent = answer.checked_in
      ? t("already_when", { when: formatWhen(answer.checked_in.at), where: where }) : "";
    show("already");
    announce(t("already_title") + ". " + $("already-when").textContent + " " + t("already_reprint"));
  }

  /* ---------- keyboard-wedge scanner ---------- */

  function onKeyDown(event) {
    activity();
    if (!SCAN_SCREENS[screen] || idleDialog.open) return;
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    var now = performance.now();
    if (now - lastKeyAt > SCAN_GAP_MS) scanBuffer = "";
    lastKeyAt = now;
    if (event.key === "Enter") {
      if (!scanBuffer) return;  // Enter on a focused button still presses it
      event.preventDefault();
      var code = scanBuffer.trim();
      scanBuffer = "";
      if (code) checkIn({ code: code });
      return;
    }
    if (event.key.length === 1) {
      event.preventDefault();  // a space in a code must not press the focused button
      if (scanBuffer.length < SCAN_MAX) scanBuffer += event.key;
    }
  }

  /* ---------- camera (BarcodeDetector, where the browser has it; nothing from the internet) ---------- */

  function offerCamera() {
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
    window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") !== -1) $("use-camera").hidden = false;
    }).catch(function () { /* no camera scanning then */ });
  }

  function startCamera() {
    reset(true);
    var mine = generation;
    show("camera");
    var video = $("camera-video");
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false }).then(function (stream) {
      if (mine !== generation) { stream.getTracks().forEach(function (track) { track.stop(); }); return; }
      cameraStream = stream;
      video.srcObject = stream;
      return video.play().then(function () { detect(detector, video, mine); });
    }).catch(function () {
      if (mine === generation) $("camera-message").textContent = t("camera_failed");
    });
  }

  function detect(detector, video, mine) {
    if (mine !== generation || !cameraStream) return;
    detector.detect(video).then(function (codes) {
      if (mine !== generation) return;
      var found = codes.filter(function (c) { return c.rawValue; })[0];
      if (found) { checkIn({ code: found.rawValue }); return; }
      setTimer("detect", function () { detect(detector, video, mine); }, 150);
    }).catch(function () {
      setTimer("detect", function () { detect(detector, video, mine); }, 500);
    });
  }

  function stopCamera() {
    if (cameraStream) cameraStream.getTracks().forEach(function (track) { track.stop(); });
    cameraStream = null;
    var video = $("camera-video");
    if (video) video.srcObject = null;
  }

  /* ---------- find me by name ---------- */

  function openLookup() {
    reset(true);
    setActiveField($("last-name"));
    show("lookup", $("last-name"));
  }

  function setActiveField(input) {
    activeField = input;
    document.querySelectorAll(".field input").forEach(function (el) { el.classList.toggle("active", el === input); });
  }

  function setLayout(name) {
    document.querySelectorAll(".key-layout").forEach(function (el) { el.hidden = el.dataset.layout !== name; });
    document.querySelectorAll(".layout-key").forEach(function (el) {
      el.setAttribute("aria-pressed", el.dataset.layoutKey === name ? "true" : "false");
    });
  }

  function pressKey(key, button) {
    if (button.closest("form").id === "code-form") { pressCodeKey(key); return; }
    var input = activeField || $("last-name");
    if (key === "backspace") input.value = input.value.slice(0, -1);
    else if (key === "clear") input.value = "";
    else if (input.value.length < Number(input.getAttribute("maxlength"))) input.value += key;
    $("lookup-error").textContent = "";
  }

  function search(event) {
    event.preventDefault();
    var lastName = $("last-name").value.trim();
    var factor = $("second-factor").value.trim();
    if (!lastName || factor.length < 3) {
      $("lookup-error").textContent = t("lookup_need_both");
      setActiveField(lastName ? $("second-factor") : $("last-name"));
      return;
    }
    var mine = generation;
    $("lookup-error").textContent = "";
    request("POST", cfg.lookupUrl, { last_name: lastName, second_factor: factor }).then(function (answer) {
      if (mine !== generation) return;
      if (answer.status === 429) { $("lookup-error").textContent = t("rate_limited"); return; }
      if (answer.status !== 200) { if (!handleRefusal(answer)) showError(); return; }
      showResults(answer.data.matches || []);
    }).catch(function (error) { if (mine === generation) showError(error); });
  }

  function showResults(matches) {
    // The typed name and email letters are not needed any more: clear them now.
    $("last-name").value = "";
    $("second-factor").value = "";
    var list = $("results");
    list.replaceChildren();
    matches.slice(0, 3).forEach(function (match) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "result";
      var name = document.createElement("span");
      name.className = "name";
      name.textContent = match.masked_name;
      var detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent = translatedPassLabel(match.pass_label) + " · " + match.masked_email;
      button.append(name, detail);
      button.addEventListener("click", function () { checkIn({ selection: match.selection }); });
      item.append(button);
      list.append(item);
    });
    // Nothing found: no "Is this you?" over an empty list.
    $("results-title").dataset.i18n = matches.length ? "results_title" : "no_match_title";
    $("results-title").textContent = t($("results-title").dataset.i18n);
    $("search-again").dataset.i18n = matches.length ? "not_me" : "search_again";
    $("search-again").textContent = t($("search-again").dataset.i18n);
    $("no-match").hidden = matches.length > 0;
    $("results-hint").hidden = matches.length === 0;
    show("results");
    announce(matches.length ? t("results_title") : t("no_match"));
  }

  /* ---------- type the code ---------- */

  function openCode() {
    reset(true);
    show("code", $("code-input"));
  }

  /** The code as the email prints it: upper case, grouped by four after the prefix; dashes and spaces ignored. */
  function formatCode(text) {
    var plain = text.toUpperCase().replace(/[^0-9A-Z]/g, "");
    var groups = [plain.slice(0, CODE_PREFIX)];
    for (var i = CODE_PREFIX; i < plain.length; i += CODE_GROUP) groups.push(plain.slice(i, i + CODE_GROUP));
    return groups.join("-");
  }

  function pressCodeKey(key) {
    var input = $("code-input");
    if (key === "backspace") input.value = formatCode(input.value.replace(/[^0-9A-Za-z]$/, "").slice(0, -1));
    else if (key === "clear") input.value = "";
    else if (input.value.length < Number(input.getAttribute("maxlength"))) input.value = formatCode(input.value + key);
    $("code-error").textContent = "";
  }

  function submitCode(event) {
    event.preventDefault();
    var code = $("code-input").value.trim();
    if (code.replace(/[^0-9A-Za-z]/g, "").length < CODE_PREFIX + 1) {
      $("code-error").textContent = t("code_needed");
      return;
    }
    checkIn({ code: code });  // the server reads dashes, spaces and lower case as the email's code
  }

  /* ---------- wiring ---------- */

  document.addEventListener("keydown", onKeyDown, true);
  document.addEventListener("pointerdown", activity, true);
  idleDialog.addEventListener("cancel", function (event) { event.preventDefault(); stillHere(); });
  $("still-here").addEventListener("click", stillHere);
  document.querySelectorAll(".lang").forEach(function (button) {
    button.addEventListener("click", function () { setLanguage(button.dataset.lang); });
  });
  $("find-by-name").addEventListener("click", openLookup);
  $("use-camera").addEventListener("click", startCamera);
  document.querySelectorAll('[data-action="reset"]').forEach(function (button) { button.addEventListener("click", reset); });
  document.querySelectorAll('[data-action="lookup"]').forEach(function (button) {
    button.addEventListener("click", openLookup);
  });
  $("lookup-form").addEventListener("submit", search);
  $("code-form").addEventListener("submit", submitCode);
  document.querySelectorAll('[data-action="code"]').forEach(function (button) {
    button.addEventListener("click", openCode);
  });
  document.querySelectorAll(".layout-key").forEach(function (button) {
    button.addEventListener("mousedown", function (event) { event.preventDefault(); });
    button.addEventListener("click", function () { setLayout(button.dataset.layoutKey); });
  });
  document.querySelectorAll(".field input").forEach(function (input) {
    input.addEventListener("focus", function () { setActiveField(input); });
  });
  document.querySelectorAll(".key").forEach(function (key) {
    // Keep the focus (and the caret) in the field being typed into.
    key.addEventListener("mousedown", function (event) { event.preventDefault(); });
    key.addEventListener("click", function () { if (key.dataset.key) pressKey(key.dataset.key, key); });
  });
  window.addEventListener("pageshow", function (event) { if (event.persisted) reset(); });

  offerCamera();
  applyLanguage();
  show("start");
  heartbeat();
})();
