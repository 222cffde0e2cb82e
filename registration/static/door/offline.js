/* Deciding a scan from this device's copy of the badge list, as the server would, when the server does not answer.
 *
 * The copy (see store.js) holds, for the chosen area, every valid badge's SHA-256 digest with its pass, whether
 * the pass opens the area and until when its holder is cleared; the digests of void badges; the area's windows
 * and capacity; and the offline_unknown policy for badges printed after the copy was made. The checks run in the
 * order the README documents for offline decisions.
 */

const ALPHABET = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const KINDS = { R1: "registration", B1: "badge", M1: "manage", K1: "kiosk", E1: "enrol", S1: "staff_token" };
const MAX_INPUT = 64;

/** The canonical code (upper case, no dashes or spaces, O→0, I/L→1) and its kind; null when it is not a code. */
export function canonical(raw) {
  if (typeof raw !== "string" || !raw || raw.length > MAX_INPUT) return null;
  const text = raw.trim().toUpperCase().replace(/[- ]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
  const prefix = text.slice(0, 2);
  if (!KINDS[prefix] || !ALPHABET.test(text.slice(2))) return null;
  return { kind: KINDS[prefix], text };
}

/** The hex SHA-256 of a canonical code: what the server stores and the copy lists. */
export async function digestOf(text) {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Milliseconds since the epoch of a window bound: with an offset as given, without one in the event's zone. */
export function instant(text, timeZone) {
  if (/(Z|[+-]\d\d:?\d\d)$/.test(text)) return Date.parse(text);
  const asUtc = Date.parse(text.length === 16 ? `${text}:00Z` : `${text}Z`);
  // The zone's offset at that moment, found by formatting the UTC reading there (twice, for DST edges).
  const offsetAt = (ms) => {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
    const local = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
    return local - ms;
  };
  const first = asUtc - offsetAt(asUtc);
  return asUtc - offsetAt(first);
}

/** Whether the area is open at ``now``: no windows means always open. */
export function isOpen(windows, now, timeZone) {
  if (!windows || windows.length === 0) return true;
  return windows.some(([start, end]) => instant(start, timeZone) <= now && now < instant(end, timeZone));
}

function attendeeOf(entry) {
  return entry ? { badge_name: entry.badge_name, pass: entry.pass, pass_label: entry.pass_label } : null;
}

/**
 * Decide one scan from the copy: ``{result, reason, attendee, digest}``.
 *
 * ``local`` is what this device knows beyond the copy: ``occupancy`` (the copy's count plus the offline scans
 * since) and ``inside`` (digests this device let in and not out, for areas without re-entry).
 */
export async function decide(copy, raw, { direction, now, timeZone, local }) {
  const code = canonical(raw);
  if (!code) return { result: "deny", reason: "code_malformed", attendee: null, digest: null };
  // The email's registration code, or any other kind of Lanyard code: not a badge.
  if (code.kind !== "badge") return { result: "deny", reason: "wrong_code_kind", attendee: null, digest: null };
  const digest = await digestOf(code.text);
  const deny = (reason, entry) => ({ result: "deny", reason, attendee: attendeeOf(entry), digest });
  if (copy.void.has(digest)) return deny("badge_void");
  const entry = copy.badges.get(digest);
  if (!entry) {
    if (copy.offline_unknown === "admit") return { result: "admit", reason: null, attendee: null, digest, unknown: true };
    return deny("code_unknown");
  }
  // On the way out only a bad badge is refused: the room's rules apply on the way in.
  if (direction === "out") return { result: "admit", reason: null, attendee: attendeeOf(entry), digest };
  if (!entry.admits) return deny("area_denied", entry);
  if (!entry.cleared || (entry.cleared_until && Date.parse(entry.cleared_until) <= now)) {
    return deny("health_not_cleared", entry);
  }
  const area = copy.area;
  if (!isOpen(area.open, now, timeZone)) return deny("area_closed", entry);
  if (area.reentry === false && local.inside.has(digest)) return deny("already_inside", entry);
  if (area.capacity && local.occupancy >= area.capacity) return deny("area_full", entry);
  return { result: "admit", reason: null, attendee: attendeeOf(entry), digest };
}
