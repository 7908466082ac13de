// Interpres page: the landing form, then the room (captions, people, sound, languages).

import { audioContext, openMicrophone, LevelMeter, Mixer } from "./audio.js";
import { applyCaption, CaptionView, primaryCaption } from "./captions.js";
import { authorization, RoomConnection } from "./connection.js";
import { JanusConnection, janusSettings } from "./janus-connection.js";
import { PeopleView } from "./people.js";
import { PhrasesView } from "./phrases.js";
import { VideoGrid } from "./video-grid.js";

const $ = (id) => document.getElementById(id);
// The same page joins the built-in room (/) or a meeting on Janus (/janus): one transport
// module each (connection.js, janus-connection.js), everything else shared.
const JANUS = location.pathname.replace(/\/+$/, "") === "/janus";

const FONT_SIZES = { min: 14, max: 48, step: 2, initial: 22 };
const SPEECH_STUCK_MS = 30000;
const STATUS_TEXT = {
  idle: "Not connected", connecting: "Connecting…", connected: "Connected",
  reconnecting: "Connection interrupted, retrying…", failed: "Connection failed",
  closed: "Disconnected",
};

const state = {
  room: "", participant: null, name: "", speak: "auto", listen: "en", profanity: "raw",
  showOriginal: false, connection: "idle", rtt: null, lastCaptionAt: null,
  participants: [], speaking: {}, captions: {}, order: [], ducking: false, muted: false,
};

const session = {
  connection: null, mixer: null, mic: null, micMeter: null, speech: new Map(), invitation: null,
  camera: null, interpretationMeter: null,
};
let languages = { speak: [], listen: [] };

const captionView = new CaptionView({
  container: $("captions"), empty: $("captions-empty"), jumpButton: $("jump-live"), state,
});
const peopleView = new PeopleView({
  list: $("participants"), strip: $("people-strip"), count: $("people-count"), state,
  languageName,
});

const videoGrid = new VideoGrid({ container: $("video-grid"), state });

const phrasesView = new PhrasesView({
  list: $("phrases"), form: $("phrase-form"), input: $("phrase-term"), say: $("phrase-say"),
  error: $("phrase-error"), count: $("phrases-count"), state,
});

window.interpres = {
  get pc() { return session.connection ? session.connection.pc : null; },
  get connection() { return session.connection; },
  state,
  get gains() { return session.mixer ? session.mixer.gains() : {}; },
};

// --- preferences -------------------------------------------------------------------

const prefs = {
  get(key, fallback) {
    try {
      const value = localStorage.getItem(`interpres.${key}`);
      return value === null ? fallback : value;
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(`interpres.${key}`, String(value));
    } catch {
      // Storage may be unavailable (private mode); preferences are a convenience.
    }
  },
};

// --- landing -----------------------------------------------------------------------

const ADJECTIVES = ["blue", "quiet", "amber", "brisk", "calm", "golden", "green", "lucky",
  "misty", "north", "silver", "sunny", "swift", "warm", "wild", "bright"];
const NOUNS = ["harbor", "meadow", "river", "cedar", "falcon", "garden", "island", "lantern",
  "maple", "orchard", "pebble", "summit", "valley", "willow", "canyon", "comet"];

function readableRoomName() {
  const pick = (list) => list[Math.floor(Math.random() * list.length)];
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${10 + Math.floor(Math.random() * 90)}`;
}

function languageName(code) {
  const all = [...languages.speak, ...languages.listen];
  const found = all.find((l) => l.code === code);
  return found ? found.name : code;
}

function fillSelect(select, options, selected) {
  select.replaceChildren(...options.map(({ code, name }) => {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = name;
    return option;
  }));
  if (options.some((o) => o.code === selected)) select.value = selected;
}

function defaultListen(codes) {
  const saved = prefs.get("listen", null);
  if (codes.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || ""]) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (codes.includes(primary)) return primary;
  }
  return codes.includes("en") ? "en" : codes[0];
}

// While the server loads its models, /api/languages answers 503 with Retry-After: wait and
// ask again, so a page opened during a restart fills itself in instead of needing a reload.
async function languagesWhenReady() {
  for (;;) {
    const response = await fetch("/api/languages");
    if (response.status !== 503) return response;
    const seconds = Math.min(30, Math.max(1, Number(response.headers.get("Retry-After")) || 5));
    showLandingStatus(`The interpreter is starting (loading its models). Trying again in ${seconds} s…`);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}

function showLandingStatus(text) {
  const box = $("landing-status");
  box.textContent = text;
  box.hidden = !text;
  $("join").disabled = Boolean(text);
}

async function loadLanguages() {
  try {
    const response = await languagesWhenReady();
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    languages = {
      speak: Array.isArray(body.speak) ? body.speak : [],
      listen: Array.isArray(body.listen) ? body.listen : [],
    };
  } catch (err) {
    showLandingError(`Could not load the list of languages (${err.message}). Reload to try again.`);
    languages = { speak: [], listen: [{ code: "en", name: "English" }] };
  } finally {
    showLandingStatus("");
  }
  const speakOptions = [{ code: "auto", name: "Detect automatically" }, ...languages.speak];
  const listenCodes = languages.listen.map((l) => l.code);
  state.speak = prefs.get("speak", "auto");
  state.listen = defaultListen(listenCodes);
  for (const select of [$("speak"), $("room-speak")]) fillSelect(select, speakOptions, state.speak);
  for (const select of [$("listen"), $("room-listen")]) {
    fillSelect(select, languages.listen, state.listen);
  }
  state.speak = $("speak").value || "auto";
  state.listen = $("listen").value || state.listen;
}

function showLandingError(text) {
  const box = $("landing-error");
  box.textContent = text;
  box.hidden = !text;
}

function setMeter(level) {
  const meter = $("mic-meter");
  meter.style.setProperty("--level", level.toFixed(3));
  meter.setAttribute("aria-valuenow", String(Math.round(level * 100)));
}

async function ensureMicrophone() {
  if (session.mic && session.mic.getAudioTracks().some((t) => t.readyState === "live")) {
    return session.mic;
  }
  session.mic = await openMicrophone();
  return session.mic;
}

async function toggleMicTest() {
  if (session.micMeter) {
    stopMicTest();
    return;
  }
  audioContext();
  showLandingError("");
  try {
    const stream = await ensureMicrophone();
    session.micMeter = new LevelMeter(stream, setMeter);
    $("mic-test").textContent = "Stop test";
    $("mic-hint").textContent = "Say something: the bar should move.";
    $("mic-meter").classList.add("active");
  } catch (err) {
    showLandingError(err.message);
    $("mic-hint").textContent = "The microphone is needed to join.";
  }
}

function stopMicTest() {
  if (session.micMeter) session.micMeter.stop();
  session.micMeter = null;
  $("mic-test").textContent = "Test microphone";
  $("mic-meter").classList.remove("active");
}

function readLandingForm() {
  const room = $("room").value.trim().replace(/\s+/g, "-");
  const name = $("name").value.trim();
  if (!room) return { error: JANUS ? "Give the room's number." : "Choose a room name.", field: "room" };
  if (JANUS && !/^[0-9]+$/.test(room)) {
    return { error: "A meeting room on Janus is a number, such as 1234.", field: "room" };
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(room)) {
    return { error: "Room names may use letters, digits, dots, dashes and underscores.", field: "room" };
  }
  if (!name) return { error: "Tell the others your name.", field: "name" };
  return { room, name, speak: $("speak").value || "auto", listen: $("listen").value };
}

// --- invitations -------------------------------------------------------------------

/**
 * The join token of an invitation link (`#token=...`: a fragment never reaches a server or a
 * Referer) and what its payload says. The server checks the signature; the page only reads
 * the room, the name and whether we may speak, to fill the form.
 */
function readInvitation() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (!token) return null;
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = part + "=".repeat((4 - (part.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return {
      token, room: String(claims.room || ""), name: String(claims.name || ""),
      speak: claims.speak !== false,
    };
  } catch {
    return { token, room: "", name: "", speak: true }; // the server will say what is wrong
  }
}

function applyInvitation(invitation) {
  if (!invitation) return;
  if (invitation.room) Object.assign($("room"), { value: invitation.room, readOnly: true });
  if (invitation.name) Object.assign($("name"), { value: invitation.name, readOnly: true });
  // An invitation is personal: copying this page's address would hand out our token.
  $("copy-invite").hidden = true;
  if (!invitation.speak) {
    $("mic-test").hidden = true;
    $("mic-hint").textContent = "You are invited to listen: your microphone is not used.";
  }
}

function listenOnly() {
  return Boolean(session.invitation && !session.invitation.speak);
}

async function downloadTranscript(event) {
  if (!session.invitation) return; // open rooms: the link downloads by itself
  event.preventDefault();
  const link = event.currentTarget;
  try {
    const response = await fetch(link.href, { headers: authorization(session.invitation.token) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const url = URL.createObjectURL(await response.blob());
    const save = Object.assign(document.createElement("a"), { href: url, download: link.download });
    save.click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    toast(`Could not download the transcript (${err.message}).`, "error");
  }
}

// --- joining and leaving -----------------------------------------------------------

async function join(event) {
  if (event) event.preventDefault();
  audioContext(); // inside the click, so that playback is allowed
  const form = readLandingForm();
  if (form.error) {
    showLandingError(form.error);
    $(form.field).focus();
    return;
  }
  showLandingError("");
  Object.assign(state, { room: form.room, name: form.name, speak: form.speak, listen: form.listen });
  prefs.set("name", form.name);
  prefs.set("speak", form.speak);
  prefs.set("listen", form.listen);

  const button = $("join");
  button.disabled = true;
  button.textContent = "Joining…";
  try {
    const stream = listenOnly() ? null : await ensureMicrophone();
    stopMicTest();
    const handlers = {
      onMessage: handleMessage, onState: setConnectionState, onRtt: setRtt, onOpen: announcePreferences,
      onMedia: onJanusMedia,
    };
    const connection = JANUS ? new JanusConnection(handlers) : new RoomConnection(handlers);
    session.connection = connection;
    // Janus hands over media while joining: the mixer must be there first.
    session.mixer = new Mixer($("audio-sinks"));
    const camTrack = JANUS && $("camera-on").checked ? await ensureCamera() : null;
    const answer = await connection.join({
      room: form.room, name: form.name, speak: form.speak, listen: form.listen,
      profanity: state.profanity, micTrack: stream ? stream.getAudioTracks()[0] : null,
      camTrack, pin: $("pin").value, token: session.invitation ? session.invitation.token : null,
    });
    state.participant = answer.participant || null;
    state.room = answer.room || form.room;
    enterRoom(stream);
  } catch (err) {
    teardown({ keepMic: true });
    showLandingError(err.message || String(err));
  } finally {
    button.disabled = false;
    button.textContent = "Join";
  }
}

function enterRoom(stream) {
  const mixer = session.mixer;
  if (!JANUS) {
    const tracks = session.connection.remoteTracks();
    mixer.attach("original", tracks.original);
    mixer.attach("interpretation", tracks.interpretation);
  }
  mixer.setBalance(Number($("balance").value) / 100);
  $("video-grid").hidden = !JANUS;
  $("camera").hidden = !JANUS;
  $("toggle-captions").hidden = !JANUS;
  if (JANUS) {
    videoGrid.setPeople(state.participants);
    videoGrid.setVideo(state.participant, session.camera ? session.camera.getVideoTracks()[0] : null);
    showCameraState();
  }
  if (stream) {
    session.micMeter = new LevelMeter(stream, (level) => {
      $("mic-level").style.setProperty("--level", level.toFixed(3));
    });
    setMuted(false);
  }
  $("mute").hidden = !stream;
  $("privacy-section").hidden = !stream; // listening only: nothing of ours to transcribe
  $("room-speak").closest("label").hidden = !stream;
  phrasesView.configure({
    token: session.invitation ? session.invitation.token : null, editable: !listenOnly(),
  });

  const url = new URL(location.href);
  url.searchParams.set("room", state.room);
  history.replaceState(null, "", url);
  document.title = `${state.room} · Interpres`;
  $("room-name").textContent = JANUS ? `Room ${state.room}` : state.room;
  $("room-listen").value = state.listen;
  $("room-speak").value = state.speak;
  updateDownloads();
  $("landing-view").hidden = true;
  $("room-view").hidden = false;
  session.statusTimer = setInterval(renderStatus, 1000);
  renderStatus();
}

function teardown({ keepMic }) {
  if (session.connection) session.connection.close();
  session.connection = null;
  if (session.interpretationMeter) session.interpretationMeter.stop();
  session.interpretationMeter = null;
  videoGrid.clear();
  if (!keepMic) stopCamera();
  if (session.mixer) session.mixer.close();
  session.mixer = null;
  if (session.micMeter) session.micMeter.stop();
  session.micMeter = null;
  clearInterval(session.statusTimer);
  for (const timer of session.speech.values()) clearTimeout(timer);
  session.speech.clear();
  if (!keepMic && session.mic) {
    for (const track of session.mic.getTracks()) track.stop();
    session.mic = null;
  }
  Object.assign(state, {
    participant: null, connection: "idle", rtt: null, lastCaptionAt: null, participants: [],
    speaking: {}, captions: {}, order: [], ducking: false,
  });
  captionView.clear();
  peopleView.render();
}

function leave() {
  teardown({ keepMic: false });
  $("room-view").hidden = true;
  $("landing-view").hidden = false;
  $("room-view").classList.remove("panel-open");
  $("toggle-panel").setAttribute("aria-expanded", "false");
  $("toggle-panel").textContent = "Settings";
  document.title = "Interpres";
  $("room").value = state.room;
  $("listen").value = state.listen;
  $("speak").value = state.speak;
}

async function rejoin() {
  leave();
  await join();
}

// --- messages ----------------------------------------------------------------------

function announcePreferences() {
  send({ type: "listen", lang: state.listen, source: state.showOriginal });
  send({ type: "speak", lang: state.speak });
  if (!state.transcribe) send({ type: "transcribe", enabled: false });
  send({ type: "profanity", mode: state.profanity });
}

function send(message) {
  return session.connection ? session.connection.send(message) : false;
}

function handleMessage(message) {
  switch (message.type) {
    case "caption": {
      // On Janus every page gets the speakers' own words: shown only with "Show original".
      if (JANUS && message.lang !== state.listen && !state.showOriginal) break;
      const segment = applyCaption(state, message);
      if (segment) {
        state.lastCaptionAt = Date.now();
        captionView.update(segment);
        const entry = state.captions[segment];
        if (JANUS) videoGrid.showCaption(entry.speaker.id, primaryCaption(entry, state.listen));
      }
      break;
    }
    case "participants":
      if (Array.isArray(message.participants)) {
        peopleView.setParticipants(message.participants);
        if (JANUS) videoGrid.setPeople(state.participants);
      }
      break;
    case "phrases":
      phrasesView.set(message.phrases);
      break;
    case "activity":
      if (message.id != null) {
        peopleView.setSpeaking(message.id, message.speaking);
        videoGrid.setSpeaking(String(message.id), message.speaking);
      }
      break;
    case "speech":
      if (message.lang === state.listen) trackSpeech(message.segment || "", message.state === "start");
      break;
    case "heartbeat":
      send({ type: "heartbeat" }); // the server takes a silent peer for a closed browser
      break;
    case "notice":
      if (message.code === "transcribed") {
        $("privacy-notice").textContent = String(message.text || "");
        $("privacy-notice").hidden = false;
        break;
      }
      toast(String(message.text || message.code || ""), message.level);
      break;
    default:
      break; // "stats" and future types are welcome to arrive and be ignored.
  }
}

// --- a meeting on Janus: everyone's media, the camera -------------------------------

/** Janus handed over (track) or took back (null) a person's audio or video, or the
 * interpretation in our language. */
function onJanusMedia(id, kind, track) {
  const mixer = session.mixer;
  if (id === "interpretation") {
    if (session.interpretationMeter) session.interpretationMeter.stop();
    session.interpretationMeter = null;
    if (!mixer) return;
    if (!track) {
      mixer.detach("interpretation");
      mixer.setDucked(false);
      return;
    }
    mixer.attach("interpretation", track);
    // No "speech" messages on Janus: duck the originals while the interpreter is heard.
    let quietSince = 0;
    session.interpretationMeter = new LevelMeter(new MediaStream([track]), (level) => {
      if (level > 0.25) {
        quietSince = 0;
        mixer.setDucked(true);
      } else if (!quietSince) {
        quietSince = performance.now();
      } else if (performance.now() - quietSince > 600) {
        mixer.setDucked(false);
      }
    });
    return;
  }
  if (kind === "video") {
    videoGrid.setVideo(id, track);
  } else if (kind === "audio" && mixer) {
    if (track) mixer.attach(`orig-${id}`, track);
    else mixer.detach(`orig-${id}`);
  }
}

async function ensureCamera() {
  if (session.camera && session.camera.getVideoTracks().some((t) => t.readyState === "live")) {
    return session.camera.getVideoTracks()[0];
  }
  // ?video=small asks for a small, slow picture (tests run three browsers on two cores).
  const small = new URLSearchParams(location.search).get("video") === "small";
  const constraints = small ? { width: 160, height: 120, frameRate: 5 }
    : { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } };
  try {
    session.camera = await navigator.mediaDevices.getUserMedia({ video: constraints });
  } catch (err) {
    throw new Error(`The camera is not available (${err.message}). Turn it off to join without it.`);
  }
  return session.camera.getVideoTracks()[0];
}

function stopCamera() {
  if (session.camera) for (const track of session.camera.getTracks()) track.stop();
  session.camera = null;
  $("camera-preview").srcObject = null;
  $("camera-preview").hidden = true;
}

async function previewCamera(on) {
  prefs.set("camera", on ? "1" : "0");
  if (!on) {
    stopCamera();
    $("camera-hint").textContent = "Off: the others see your initials.";
    return;
  }
  try {
    const track = await ensureCamera();
    $("camera-preview").srcObject = new MediaStream([track]);
    $("camera-preview").hidden = false;
    $("camera-hint").textContent = "This is what the others will see.";
  } catch (err) {
    $("camera-on").checked = false;
    showLandingError(err.message);
  }
}

async function toggleCamera() {
  const on = !session.camera;
  try {
    if (on) {
      const track = await ensureCamera();
      await session.connection.setCamera(track);
      videoGrid.setVideo(state.participant, track);
    } else {
      await session.connection.setCamera(null);
      stopCamera();
      videoGrid.setVideo(state.participant, null);
    }
  } catch (err) {
    toast(err.message, "error");
  }
  showCameraState();
}

function showCameraState() {
  const on = Boolean(session.camera);
  $("camera").setAttribute("aria-pressed", String(on));
  $("camera").textContent = on ? "Camera off" : "Camera on";
}

/** Duck the original while any interpretation segment in our language is being spoken. */
function trackSpeech(segment, speaking) {
  clearTimeout(session.speech.get(segment));
  session.speech.delete(segment);
  if (speaking) {
    // A lost "stop" must not leave the room ducked for good.
    session.speech.set(segment, setTimeout(() => trackSpeech(segment, false), SPEECH_STUCK_MS));
  }
  state.ducking = session.speech.size > 0;
  if (session.mixer) session.mixer.setDucked(state.ducking);
}

function resetSpeech() {
  for (const timer of session.speech.values()) clearTimeout(timer);
  session.speech.clear();
  state.ducking = false;
  if (session.mixer) session.mixer.setDucked(false);
}

// --- room controls -----------------------------------------------------------------

function setConnectionState(connectionState) {
  state.connection = connectionState;
  renderStatus();
}

function setRtt(ms) {
  state.rtt = Math.round(ms);
  renderStatus();
}

function renderStatus() {
  const status = $("status");
  status.dataset.state = state.connection;
  $("status-text").textContent = STATUS_TEXT[state.connection] || state.connection;
  const details = [];
  if (state.connection === "connected" && state.rtt !== null) details.push(`ping ${state.rtt} ms`);
  if (state.lastCaptionAt) details.push(`last caption ${formatAge(Date.now() - state.lastCaptionAt)}`);
  $("status-detail").textContent = details.length ? `· ${details.join(" · ")}` : "";
  $("rejoin").hidden = !["failed", "closed"].includes(state.connection);
}

function formatAge(ms) {
  if (ms < 1500) return "just now";
  if (ms < 60000) return `${Math.round(ms / 1000)} s ago`;
  return `${Math.round(ms / 60000)} min ago`;
}

function setListen(lang) {
  state.listen = lang;
  prefs.set("listen", lang);
  $("listen").value = lang;
  resetSpeech();
  send({ type: "listen", lang, source: state.showOriginal });
  updateDownloads();
  captionView.renderAll();
}

function setSpeak(lang) {
  state.speak = lang;
  prefs.set("speak", lang);
  $("speak").value = lang;
  send({ type: "speak", lang });
}

function setShowOriginal(show) {
  state.showOriginal = show;
  prefs.set("showOriginal", show ? "1" : "0");
  send({ type: "listen", lang: state.listen, source: show });
  captionView.renderAll();
}

function setProfanity(mode) {
  state.profanity = mode;
  prefs.set("profanity", mode);
  send({ type: "profanity", mode });
  updateDownloads();
}

function setTranscribe(enabled) {
  state.transcribe = enabled;
  prefs.set("transcribe", enabled ? "1" : "0");
  send({ type: "transcribe", enabled });
}

function setMuted(muted) {
  state.muted = muted;
  if (session.mic) for (const track of session.mic.getAudioTracks()) track.enabled = !muted;
  const button = $("mute");
  button.setAttribute("aria-pressed", String(muted));
  button.classList.toggle("muted", muted);
  $("mute-label").textContent = muted ? "Unmute" : "Mute";
}

function setFontSize(px) {
  const size = Math.min(FONT_SIZES.max, Math.max(FONT_SIZES.min, px));
  document.documentElement.style.setProperty("--caption-size", `${size}px`);
  $("font-size-value").textContent = `${size} px`;
  prefs.set("fontSize", size);
  return size;
}

function updateDownloads() {
  const rooms = JANUS ? "/api/janus/rooms" : "/api/rooms";
  const base = `${rooms}/${encodeURIComponent(state.room)}/transcript`;
  for (const format of ["vtt", "srt", "txt"]) {
    const link = $(`download-${format}`);
    link.href = `${base}?lang=${encodeURIComponent(state.listen)}&format=${format}`
      + `&profanity=${encodeURIComponent(state.profanity)}`;
    link.download = `${state.room}-${state.listen}.${format}`;
  }
}

async function copyInvite() {
  const url = new URL(location.pathname, location.origin);
  url.searchParams.set("room", state.room);
  const link = url.toString();
  try {
    await navigator.clipboard.writeText(link);
  } catch {
    // The async clipboard needs a secure context; fall back to a selection copy.
    const area = document.createElement("textarea");
    area.value = link;
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) {
      toast(`Invite link: ${link}`, "info");
      return;
    }
  }
  toast("Invite link copied.", "info");
}

function toast(text, level = "info") {
  if (!text) return;
  const box = $("toasts");
  const item = document.createElement("div");
  item.className = "toast";
  item.dataset.level = ["info", "warning", "error"].includes(level) ? level : "info";
  item.textContent = text;
  item.addEventListener("click", () => item.remove());
  box.append(item);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => item.remove(), level === "error" ? 12000 : 6000);
}

// --- wiring ------------------------------------------------------------------------

/** The landing form and room for a meeting on Janus: a room number, its PIN, a camera. */
function setUpJanusPage(params) {
  document.body.classList.add("transport-janus");
  document.title = "Interpres · video meeting";
  $("pin-field").hidden = false;
  $("camera-check").hidden = false;
  const room = $("room");
  room.inputMode = "numeric";
  room.pattern = "[0-9]+";
  room.placeholder = "e.g. 1234";
  if (!params.get("room")) room.value = "";
  janusSettings().then((settings) => {
    if (!room.value && settings.room) room.value = String(settings.room);
    if (!settings.server) {
      showLandingError("This server has no Janus configured: set [janus] url in interpres.toml "
        + "(or INTERPRES_JANUS_URL), or open the page with ?janus=http://HOST:8088/janus.");
    }
  }).catch(() => {});
  $("camera-on").checked = prefs.get("camera", "1") === "1";
  if ($("camera-on").checked) previewCamera(true);
  $("camera-on").addEventListener("change", (e) => previewCamera(e.target.checked));
  $("camera").addEventListener("click", toggleCamera);
  $("toggle-captions").addEventListener("click", () => {
    const hidden = $("room-view").classList.toggle("captions-hidden");
    $("toggle-captions").setAttribute("aria-expanded", String(!hidden));
    $("toggle-captions").textContent = hidden ? "Show captions" : "Hide captions";
  });
}

function init() {
  const params = new URLSearchParams(location.search);
  $("room").value = params.get("room") || readableRoomName();
  $("name").value = prefs.get("name", "");
  session.invitation = readInvitation();
  applyInvitation(session.invitation);
  for (const format of ["vtt", "srt", "txt"]) {
    $(`download-${format}`).addEventListener("click", downloadTranscript);
  }
  $("join-form").addEventListener("submit", join);
  if (JANUS) setUpJanusPage(params);
  $("mic-test").addEventListener("click", toggleMicTest);

  $("room-listen").addEventListener("change", (e) => setListen(e.target.value));
  $("room-speak").addEventListener("change", (e) => setSpeak(e.target.value));
  state.showOriginal = prefs.get("showOriginal", "0") === "1";
  $("show-original").checked = state.showOriginal;
  $("show-original").addEventListener("change", (e) => setShowOriginal(e.target.checked));
  state.profanity = prefs.get("profanity", "raw");
  if (!["raw", "masked", "removed"].includes(state.profanity)) state.profanity = "raw";
  $("profanity").value = state.profanity;
  $("profanity").addEventListener("change", (e) => setProfanity(e.target.value));
  state.transcribe = prefs.get("transcribe", "1") === "1";
  $("transcribe-me").checked = state.transcribe;
  $("transcribe-me").addEventListener("change", (e) => setTranscribe(e.target.checked));

  const balance = $("balance");
  balance.value = prefs.get("balance", balance.value);
  balance.addEventListener("input", () => {
    prefs.set("balance", balance.value);
    if (session.mixer) session.mixer.setBalance(Number(balance.value) / 100);
  });

  let fontSize = setFontSize(Number(prefs.get("fontSize", FONT_SIZES.initial)) || FONT_SIZES.initial);
  $("font-down").addEventListener("click", () => { fontSize = setFontSize(fontSize - FONT_SIZES.step); });
  $("font-up").addEventListener("click", () => { fontSize = setFontSize(fontSize + FONT_SIZES.step); });

  $("mute").addEventListener("click", () => setMuted(!state.muted));
  $("leave").addEventListener("click", leave);
  $("rejoin").addEventListener("click", rejoin);
  $("copy-invite").addEventListener("click", copyInvite);
  $("toggle-panel").addEventListener("click", () => {
    const open = $("room-view").classList.toggle("panel-open");
    $("toggle-panel").setAttribute("aria-expanded", String(open));
    $("toggle-panel").textContent = open ? "Close settings" : "Settings";
  });
  window.addEventListener("pagehide", () => {
    if (session.connection) session.connection.close();
  });

  loadLanguages();
  if (!$("name").value) $("name").focus();
}

init();
