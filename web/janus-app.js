// The Janus meeting page: publish the microphone into a VideoRoom, hear the others, and pick
// a language: subscribe to the Interpres bot's interpreter feed for it (audio + captions) and
// turn the original voices down. Uses Janus's own janus.js (Debian: libjs-janus-gateway).
/* global Janus */

const PLUGIN = "janus.plugin.videoroom";
const ORIGINAL_VOLUME = 1.0;
const DUCKED_VOLUME = 0.25;
const LISTEN_EVERY_MS = 60000; // the bot drops a language nobody asks for again

const $ = (id) => document.getElementById(id);
const state = {
  janus: null, publisher: null, originals: null, interpretation: null,
  privateId: null, myId: null, room: 0, pin: "", listen: "", publishers: new Map(),
  subscribed: new Set(), interpreterFeed: null, listenTimer: null, captions: new Map(),
  names: {},
};
window.interpresJanus = state; // for tests and the curious

function interpreterLang(publisher) {
  for (const stream of publisher.streams || []) {
    const match = /^interpretation:(\S+)$/.exec(stream.description || "");
    if (match) return match[1];
  }
  return null;
}

function setStatus(text, kind) {
  const status = $("status");
  status.textContent = text;
  status.dataset.state = kind;
}

function showError(message) {
  const error = $("error");
  error.textContent = message;
  error.hidden = false;
  $("join").disabled = false;
  if (state.janus) state.janus.destroy();
}

async function settings() {
  const params = new URLSearchParams(location.search);
  const response = await fetch("/api/janus");
  const server = response.ok ? await response.json() : {};
  const languages = await (await fetch("/api/languages")).json().catch(() => ({}));
  return {
    server: params.get("janus") || server.url,
    apisecret: params.get("apisecret") || server.apisecret || undefined,
    room: params.get("room") || server.room || "",
    iceServers: server.iceServers || [],
    listen: (languages.listen || []),
  };
}

function renderPeople() {
  const list = $("people");
  list.replaceChildren();
  const me = document.createElement("li");
  me.textContent = `${$("name").value} (you)`;
  list.append(me);
  for (const publisher of state.publishers.values()) {
    if (interpreterLang(publisher) || publisher.display === "Interpres") continue;
    const item = document.createElement("li");
    item.textContent = publisher.display || `guest ${publisher.id}`;
    list.append(item);
  }
}

function addCaption(message) {
  if (message.type !== "caption") return;
  let item = state.captions.get(message.segment);
  if (!item) {
    item = document.createElement("li");
    item.className = "caption";
    const who = document.createElement("span");
    who.className = "who";
    const text = document.createElement("span");
    text.className = "text";
    item.append(who, text);
    state.captions.set(message.segment, item);
    $("captions").append(item);
  }
  item.dataset.lang = message.lang;
  item.dataset.final = String(Boolean(message.final));
  item.querySelector(".who").textContent = message.speaker ? message.speaker.name : "";
  item.querySelector(".text").textContent = message.text;
  while ($("captions").children.length > 200) $("captions").firstElementChild.remove();
  item.scrollIntoView({ block: "end" });
}

function playTrack(key, track, volume) {
  let element = document.getElementById(`audio-${key}`);
  if (!element) {
    element = document.createElement("audio");
    element.id = `audio-${key}`;
    element.autoplay = true;
    $("audio").append(element);
  }
  element.srcObject = new MediaStream([track]);
  element.volume = volume;
  element.play().catch(() => {});
}

function duckOriginals(ducked) {
  for (const element of document.querySelectorAll("audio[id^=audio-orig-]")) {
    element.volume = ducked ? DUCKED_VOLUME : ORIGINAL_VOLUME;
  }
}

function attach(callbacks) {
  return new Promise((resolve, reject) => {
    state.janus.attach({ plugin: PLUGIN, success: resolve, error: reject, ...callbacks });
  });
}

function body(extra) {
  return state.pin ? { room: state.room, pin: state.pin, ...extra } : { room: state.room, ...extra };
}

async function subscribeOriginals(publishers) {
  const streams = [];
  for (const publisher of publishers) {
    if (publisher.id === state.myId || interpreterLang(publisher) || state.subscribed.has(publisher.id)) continue;
    state.subscribed.add(publisher.id);
    for (const stream of publisher.streams || []) {
      if (stream.type === "audio") streams.push({ feed: publisher.id, mid: stream.mid });
    }
  }
  if (!streams.length) return;
  if (!state.originals) {
    state.originals = await attach({
      onmessage: (msg, jsep) => answer(state.originals, jsep),
      onremotetrack: (track, mid, on) => {
        if (on && track.kind === "audio") playTrack(`orig-${mid}`, track, state.listen ? DUCKED_VOLUME : ORIGINAL_VOLUME);
      },
    });
    state.originals.send({ message: body({ request: "join", ptype: "subscriber", private_id: state.privateId, streams }) });
  } else {
    state.originals.send({ message: { request: "update", subscribe: streams } });
  }
}

function answer(handle, jsep) {
  if (!jsep) return;
  handle.createAnswer({
    jsep, tracks: [{ type: "data" }],
    success: (ours) => handle.send({ message: { request: "start" }, jsep: ours }),
    error: (error) => showError(`Could not receive audio: ${error.message || error}`),
  });
}

async function subscribeInterpreter() {
  const lang = state.listen;
  const feed = [...state.publishers.values()].find((p) => interpreterLang(p) === lang);
  if (state.interpretation && (!feed || feed.id !== state.interpreterFeed)) {
    state.interpretation.detach();
    state.interpretation = null;
    state.interpreterFeed = null;
  }
  duckOriginals(Boolean(lang));
  $("captions-title").textContent = lang ? `Captions · ${state.names[lang] || lang}` : "Captions";
  if (!lang || !feed || state.interpretation) return;
  state.interpreterFeed = feed.id;
  state.interpretation = await attach({
    onmessage: (msg, jsep) => answer(state.interpretation, jsep),
    onremotetrack: (track, mid, on) => {
      if (on && track.kind === "audio") playTrack("interpretation", track, 1.0);
    },
    ondata: (data) => {
      try { addCaption(JSON.parse(data)); } catch (error) { /* not ours */ }
    },
  });
  state.interpretation.send({ message: body({ request: "join", ptype: "subscriber", streams: [{ feed: feed.id }] }) });
}

function askForLanguage() {
  clearInterval(state.listenTimer);
  if (!state.listen) return;
  const ask = () => state.publisher && state.publisher.data({
    text: JSON.stringify({ type: "listen", lang: state.listen }), error: () => {},
  });
  ask();
  state.listenTimer = setInterval(ask, LISTEN_EVERY_MS);
}

function onPublisherMessage(msg, jsep) {
  const event = msg.videoroom;
  if (msg.error) {
    showError(`Janus: ${msg.error}`);
    return;
  }
  if (event === "joined") {
    state.myId = msg.id;
    state.privateId = msg.private_id;
    $("join-form").hidden = true;
    $("room-view").hidden = false;
    setStatus("Connected", "connected");
    state.publisher.createOffer({
      tracks: [{ type: "audio", capture: true, recv: false }, { type: "data" }],
      success: (ours) => state.publisher.send({ message: { request: "publish", display: $("name").value }, jsep: ours }),
      error: (error) => showError(`Microphone: ${error.message || error}`),
    });
  }
  if (jsep) state.publisher.handleRemoteJsep({ jsep });
  for (const publisher of msg.publishers || []) state.publishers.set(publisher.id, publisher);
  const gone = msg.unpublished || msg.leaving;
  if (gone && gone !== "ok") {
    state.publishers.delete(gone);
    state.subscribed.delete(gone);
  }
  renderPeople();
  subscribeOriginals([...state.publishers.values()]).catch((error) => showError(String(error)));
  subscribeInterpreter().catch((error) => showError(String(error)));
}

async function join(config) {
  state.room = Number($("room").value);
  state.pin = $("pin").value;
  state.listen = $("listen").value;
  $("join").disabled = true;
  $("error").hidden = true;
  await new Promise((resolve) => Janus.init({ debug: false, dependencies: Janus.useDefaultDependencies(), callback: resolve }));
  state.janus = new Janus({
    server: config.server, apisecret: config.apisecret, iceServers: config.iceServers,
    success: async () => {
      try {
        state.publisher = await attach({
          onmessage: onPublisherMessage,
          ondataopen: () => askForLanguage(),
          error: (error) => showError(String(error)),
        });
        state.publisher.send({ message: body({ request: "join", ptype: "publisher", display: $("name").value }) });
      } catch (error) {
        showError(`Could not attach to the VideoRoom: ${error}`);
      }
    },
    error: (error) => {
      setStatus("Disconnected", "failed");
      showError(`Could not reach Janus at ${config.server}: ${error}`);
    },
  });
}

async function main() {
  const config = await settings();
  $("room").value = config.room;
  for (const option of config.listen) {
    state.names[option.code] = option.name;
    for (const select of [$("listen"), $("listen-live")]) {
      const item = document.createElement("option");
      item.value = option.code;
      item.textContent = option.name;
      select.append(item);
    }
  }
  $("listen-live").prepend(new Option("the original voices", ""));
  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!config.server) {
      showError("No Janus server: open this page with ?janus=http://HOST:8088/janus or set INTERPRES_JANUS_URL.");
      return;
    }
    join(config).catch((error) => showError(String(error)));
  });
  $("listen-live").addEventListener("change", () => {
    state.listen = $("listen-live").value;
    askForLanguage();
    subscribeInterpreter().catch((error) => showError(String(error)));
  });
  $("listen").addEventListener("change", () => { $("listen-live").value = $("listen").value; });
}

main();
