/* Scanner input: a keyboard-wedge or handheld scanner (keystrokes and Enter into the labelled code field, which
 * keeps the focus), or the camera: BarcodeDetector where the browser has it, else the vendored jsQR decoder. */

const SAME_CODE_MS = 2500;  // the camera sees a badge many times a second: one scan per badge shown
const FRAME_MS = 120;

/** Send every code typed or scanned into ``form``'s field to ``onCode``; the field is emptied for the next one. */
export function listenToWedge(form, input, onCode) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = input.value.trim();
    input.value = "";
    if (code) onCode(code);
  });
}

/** Keep the focus on the code field while scanning: after a button is used, and when it would fall to the page. */
export function keepFocus(input, isScanning) {
  const refocus = () => { if (isScanning() && document.activeElement !== input) input.focus({ preventScroll: true }); };
  document.addEventListener("focusout", (event) => {
    // A focus that leaves for nothing (a click on the page, a hidden element) comes back to the field.
    setTimeout(() => { if (!document.activeElement || document.activeElement === document.body) refocus(); }, 0);
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest("button:not([type=submit]), .direction")) setTimeout(refocus, 0);
  });
  document.addEventListener("keydown", (event) => {
    // A scanner types wherever the focus is: a key while a button has it goes to the field instead.
    const target = event.target;
    if (event.key.length === 1 && !event.ctrlKey && !event.altKey && !event.metaKey
        && !(target instanceof HTMLInputElement || target instanceof HTMLSelectElement)) refocus();
  }, true);
  return refocus;
}

function loadScript(url) {
  return new Promise((resolve, reject) => {
    if (window.jsQR) { resolve(window.jsQR); return; }
    const script = document.createElement("script");
    script.src = url;
    script.onload = () => (window.jsQR ? resolve(window.jsQR) : reject(new Error("jsQR did not load")));
    script.onerror = () => reject(new Error("jsQR did not load"));
    document.head.append(script);
  });
}

/** Whether this browser can scan with a camera at all (a secure context with camera access). */
export function cameraPossible() {
  return window.isSecureContext && !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

async function makeDetector(jsqrUrl) {
  if ("BarcodeDetector" in window) {
    const formats = await window.BarcodeDetector.getSupportedFormats().catch(() => []);
    if (formats.includes("qr_code")) {
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return async (video) => {
        const found = (await detector.detect(video)).find((code) => code.rawValue);
        return found ? found.rawValue : null;
      };
    }
  }
  const jsQR = await loadScript(jsqrUrl);
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    if (!video.videoWidth) return null;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const found = jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
    return found ? found.data : null;
  };
}

/** The camera scanner: ``start()`` shows the back camera in ``video`` and sends each badge seen to ``onCode``. */
export class Camera {
  constructor(video, jsqrUrl, onCode) {
    Object.assign(this, { video, jsqrUrl, onCode, stream: null, timer: null, last: "", lastAt: 0 });
  }

  get on() { return this.stream !== null; }

  /** :throws: when there is no camera or the person refused it. */
  async start() {
    const detect = await makeDetector(this.jsqrUrl);
    this.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    this.video.srcObject = this.stream;
    this.video.hidden = false;
    await this.video.play();
    const look = async () => {
      if (!this.stream) return;
      const code = await detect(this.video).catch(() => null);
      const now = performance.now();
      if (code && (code !== this.last || now - this.lastAt > SAME_CODE_MS)) {
        this.last = code;
        this.lastAt = now;
        this.onCode(code);
      }
      this.timer = setTimeout(look, FRAME_MS);
    };
    look();
  }

  stop() {
    clearTimeout(this.timer);
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    this.stream = null;
    this.video.srcObject = null;
    this.video.hidden = true;
  }
}
