/* What a door person hears and feels: a high short beep for ADMIT, a low double buzz for DENY, and vibration on
 * phones that have it. The audio context starts on the first key press or tap (browsers allow no sound before). */

let context = null;

/** Create (or wake) the audio context; call from a user gesture. */
export function unlock() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  if (!context) context = new Context();
  if (context.state === "suspended") context.resume().catch(() => {});
}

function tone(frequency, startAt, seconds, type) {
  const oscillator = context.createOscillator();
  const gain = context.createGain();
  oscillator.type = type;
  oscillator.frequency.value = frequency;
  gain.gain.setValueAtTime(0.0001, startAt);
  gain.gain.exponentialRampToValueAtTime(0.3, startAt + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.0001, startAt + seconds);
  oscillator.connect(gain).connect(context.destination);
  oscillator.start(startAt);
  oscillator.stop(startAt + seconds + 0.02);
}

/** Sound and vibration for a result ("admit" or anything else). */
export function signal(result) {
  const admit = result === "admit";
  if (context && context.state === "running") {
    const now = context.currentTime;
    if (admit) {
      tone(1320, now, 0.15, "sine");
    } else {
      tone(220, now, 0.18, "square");
      tone(220, now + 0.25, 0.18, "square");
    }
  }
  if (typeof navigator.vibrate === "function") navigator.vibrate(admit ? 80 : [200, 100, 200]);
}
