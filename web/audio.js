// Microphone capture, a level meter, and the listener's mix of the two incoming tracks.

const MIC_CONSTRAINTS = {
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
};

const DUCK_FACTOR = 0.25;
const DUCK_RAMP_S = 0.15;
const SLIDER_RAMP_S = 0.03;

let sharedContext = null;

/** One AudioContext for the page, created and resumed inside a user gesture. */
export function audioContext() {
  if (!sharedContext || sharedContext.state === "closed") {
    const Context = window.AudioContext || window.webkitAudioContext;
    sharedContext = new Context();
  }
  if (sharedContext.state === "suspended") sharedContext.resume().catch(() => {});
  return sharedContext;
}

/** Ask for the microphone; throws an Error whose message is fit to show the user. */
export async function openMicrophone() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error(
      "This page cannot use a microphone here. Open it over https or on localhost.");
  }
  try {
    return await navigator.mediaDevices.getUserMedia(MIC_CONSTRAINTS);
  } catch (err) {
    throw new Error(microphoneErrorText(err));
  }
}

function microphoneErrorText(err) {
  switch (err && err.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone access was denied. Allow the microphone for this site in the " +
        "browser's address bar or settings, then try again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found. Plug one in and try again.";
    case "NotReadableError":
    case "AbortError":
      return "The microphone is busy or unavailable. Close other apps using it and try again.";
    default:
      return `Could not open the microphone (${(err && err.message) || err}).`;
  }
}

/** Calls onLevel(0..1) about 20 times a second with the stream's loudness. */
export class LevelMeter {
  constructor(stream, onLevel) {
    const ctx = audioContext();
    this.source = ctx.createMediaStreamSource(stream);
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.source.connect(this.analyser);
    this.samples = new Float32Array(this.analyser.fftSize);
    this.onLevel = onLevel;
    this.timer = setInterval(() => this.tick(), 50);
  }

  tick() {
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const s of this.samples) sum += s * s;
    const rms = Math.sqrt(sum / this.samples.length);
    // Speech sits around -40..-10 dBFS; map that range onto 0..1.
    const db = 20 * Math.log10(rms + 1e-9);
    this.onLevel(Math.min(1, Math.max(0, (db + 60) / 50)));
  }

  stop() {
    clearInterval(this.timer);
    this.source.disconnect();
    this.onLevel(0);
  }
}

/**
 * Original mix and interpretation, each played by its own <audio> element whose volume is
 * balanced by one slider, with the original ducked while the interpretation speaks.
 *
 * Why media elements and not WebAudio gain nodes: Chrome's echo canceller takes its
 * reference from what WebRTC plays out through media elements; sound routed through
 * WebAudio is not cancelled, so a listener on laptop speakers would echo the room back.
 * Playing out through the element is also what makes getStats() report audio energy.
 */
export class Mixer {
  constructor(sinkContainer) {
    this.sinkContainer = sinkContainer;
    this.channels = {};
    this.balance = 0.5;
    this.ducked = false;
  }

  attach(name, track) {
    this.detach(name);
    const element = document.createElement("audio");
    element.autoplay = true;
    element.dataset.channel = name;
    element.srcObject = new MediaStream([track]);
    element.volume = this.targetGain(name);
    this.sinkContainer.append(element);
    element.play().catch(() => {});
    this.channels[name] = { element, ramp: null };
  }

  detach(name) {
    const channel = this.channels[name];
    if (!channel) return;
    cancelAnimationFrame(channel.ramp);
    channel.element.srcObject = null;
    channel.element.remove();
    delete this.channels[name];
  }

  /** value in 0..1: 0 is only the original voices, 1 only the interpretation. */
  setBalance(value) {
    this.balance = value;
    this.apply(SLIDER_RAMP_S);
  }

  setDucked(ducked) {
    if (ducked === this.ducked) return;
    this.ducked = ducked;
    this.apply(DUCK_RAMP_S);
  }

  targetGain(name) {
    // Equal loudness in the middle, each side fading out towards the other end.
    if (name === "interpretation") return Math.min(1, 2 * this.balance);
    const original = Math.min(1, 2 * (1 - this.balance));
    return this.ducked ? original * DUCK_FACTOR : original;
  }

  apply(rampSeconds) {
    for (const [name, channel] of Object.entries(this.channels)) {
      cancelAnimationFrame(channel.ramp);
      const from = channel.element.volume;
      const to = this.targetGain(name);
      const start = performance.now();
      // A short linear ramp on the element volume: no click when ducking starts.
      const step = (now) => {
        // rAF timestamps may precede `start` by a frame: clamp the share and the volume.
        const share = Math.min(1, Math.max(0, (now - start) / (rampSeconds * 1000)));
        channel.element.volume = Math.min(1, Math.max(0, from + (to - from) * share));
        channel.ramp = share < 1 ? requestAnimationFrame(step) : null;
      };
      channel.ramp = requestAnimationFrame(step);
    }
  }

  /** Current volumes, for the status of tests and debugging. */
  gains() {
    const out = {};
    for (const [name, { element }] of Object.entries(this.channels)) out[name] = element.volume;
    return out;
  }

  close() {
    for (const name of Object.keys(this.channels)) this.detach(name);
  }
}
