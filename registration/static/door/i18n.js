/* The door page's strings: rendered by the server, in the page's language, into the #door-messages JSON block. */

const MESSAGES = JSON.parse(document.getElementById("door-messages").textContent);

/** The message ``key`` with its ``{name}`` fields filled from ``fields``. */
export function t(key, fields) {
  const text = MESSAGES[key] ?? MESSAGES.other;
  return String(text).replace(/\{(\w+)\}/g, (match, name) =>
    fields && fields[name] !== undefined && fields[name] !== null ? String(fields[name]) : match);
}

/** Whether there is a message for ``key`` (a reason code the server may add later has none: "other" is said). */
export function has(key) {
  return Object.prototype.hasOwnProperty.call(MESSAGES, key);
}

/** HH:MM of ``date`` in the event's time zone (the device's own when the zone is unknown to the browser). */
export function clock(date, language, timeZone) {
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  try {
    return new Intl.DateTimeFormat(language, { ...options, timeZone }).format(date);
  } catch (error) {
    return new Intl.DateTimeFormat(language, options).format(date);
  }
}
