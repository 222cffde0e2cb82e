/* Talking to the server: the signed-in door user's session cookie plus the page's CSRF token, and a time limit.
 * A request that gets no answer in time, a network failure or a 5xx is "unreachable": the door decides offline. */

const CSRF = document.querySelector('meta[name="csrf-token"]').getAttribute("content");

/** The server did not give an answer the door can use (no network, too slow, or a server fault). */
export class Unreachable extends Error {}

/** One request; resolves to ``{status, data}`` for 2xx and 4xx answers, rejects with Unreachable otherwise. */
export async function request(method, url, { body, timeoutMs }) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const options = {
    method, credentials: "same-origin", cache: "no-store", redirect: "manual", signal: controller.signal,
    headers: { Accept: "application/json", "X-CSRFToken": CSRF },
  };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    throw new Unreachable(error.name === "AbortError" ? "timeout" : "network");
  } finally {
    clearTimeout(timer);
  }
  if (response.status >= 500 || response.status === 0) throw new Unreachable(`server ${response.status}`);
  const data = await response.json().catch(() => ({}));
  return { status: response.status, data };
}

/** The error code of a refusal (``{"error": {"code"}}``), or "" when the answer has none. */
export function errorCode(answer) {
  return (answer.data && answer.data.error && answer.data.error.code) || "";
}

/** A refusal that a later try may not get (signed out, a stale CSRF token, too many requests). */
export function isRetryable(answer) {
  return answer.status === 401 || answer.status === 403 || answer.status === 408 || answer.status === 429
    || errorCode(answer) === "csrf_failed";
}

/** A random nonce: a scan sent twice (a retry, an upload of a scan already seen) counts once. */
export function newNonce() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
