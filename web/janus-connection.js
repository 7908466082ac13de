// The meeting on a Janus VideoRoom: publish microphone (and camera), receive everyone's
// audio and video, and the interpreter's feed in the listener's language (its audio and
// its captions data channel). Janus forwards the media; the Interpres server is only asked
// to put its interpreter in the room. Same handlers as RoomConnection (connection.js), so
// the page is written once; what differs is the people (Janus publishers) and the media
// (one stream per person instead of one mix). Uses Janus's own janus.js.
/* global Janus */

import { authorization } from "./connection.js";

const PLUGIN = "janus.plugin.videoroom";
const LISTEN_EVERY_MS = 60000; // the bot drops a language nobody asked for again
const INTERPRETER = /^interpretation:(\S+)$/;
const BOT_DISPLAYS = ["Interpres", "Interpreter ·"];

/** The language of an interpreter feed, or null for a person. */
function interpreterLang(publisher) {
  for (const stream of publisher.streams || []) {
    const match = INTERPRETER.exec(stream.description || "");
    if (match) return match[1];
  }
  return null;
}

function isBot(publisher) {
  const display = publisher.display || "";
  return interpreterLang(publisher) !== null || BOT_DISPLAYS.some((d) => display.startsWith(d));
}

/** Janus's own browser library (and the WebRTC adapter it wants), from the server's Debian
 * packages, loaded only when a meeting on Janus is joined. */
function loadScript(src) {
  if (document.querySelector(`script[data-vendor="${src}"]`)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = Object.assign(document.createElement("script"), { src });
    script.dataset.vendor = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`${src} did not load: is libjs-janus-gateway installed on the server?`));
    document.head.append(script);
  });
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

export async function janusSettings() {
  const response = await fetch("/api/janus");
  const body = response.ok ? await readJson(response) : null;
  const params = new URLSearchParams(location.search);
  return {
    server: params.get("janus") || (body && body.url) || null,
    privacy: (body && body.privacy) || "",
    room: (body && body.room) || null,
    iceServers: (body && body.iceServers) || [],
    apisecret: params.get("apisecret") || undefined,
  };
}

export class JanusConnection {
  /**
   * handlers: onMessage(msg), onState(state), onRtt(ms), onOpen(),
   * onMedia(personId, kind, track | null): a person's audio or video came or went.
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.janus = null;
    this.publisher = null;
    this.subscriber = null;
    this.interpreter = null;
    this.interpreterFeed = null;
    this.interpreterLang = null; // the language of the feed we took (a restart keeps it)
    this.publishers = new Map(); // feed id -> publisher (people and the interpreter's feeds)
    this.mids = new Map(); // subscriber mid -> { feed, type }
    this.subscribed = new Set(); // "feed:mid" of the streams we asked for
    this.pending = []; // streams to add at the next negotiation
    this.negotiating = false;
    this.room = 0;
    this.pin = "";
    this.token = null;
    this.listen = "";
    this.myId = null;
    this.privateId = null;
    this.name = "";
    this.closed = false;
    this.listenTimer = null;
    this.pc = null; // the publisher's peer connection (for getStats in tests)
  }

  async join({ room, pin, name, speak, listen, micTrack, camTrack, token }) {
    const settings = await janusSettings();
    this.speak = speak || "auto";
    this.transcribe = true;
    if (!settings.server) {
      throw new Error("This server has no Janus configured ([janus] url in interpres.toml, "
        + "or open the page with ?janus=http://HOST:8088/janus).");
    }
    Object.assign(this, { room: Number(room), pin: pin || "", name, listen, token });
    this.handlers.onState("connecting");
    await loadScript("/vendor/adapter.js");
    await loadScript("/vendor/janus.js");
    await new Promise((resolve) => Janus.init({
      debug: false, dependencies: Janus.useDefaultDependencies(), callback: resolve,
    }));
    await new Promise((resolve, reject) => {
      this.janus = new Janus({
        server: settings.server, apisecret: settings.apisecret, iceServers: settings.iceServers,
        success: resolve,
        error: (error) => {
          if (this.myId === null) reject(new Error(`Could not reach Janus at ${settings.server}: ${error}`));
          else this.handlers.onState("failed");
        },
        destroyed: () => this.handlers.onState("closed"),
      });
    });
    this.publisher = await this.attach({
      onmessage: (msg, jsep) => this.onPublisherMessage(msg, jsep),
      ondataopen: () => this.opened(),
      iceState: (state) => this.iceState(state),
      webrtcState: (up) => this.handlers.onState(up ? "connected" : "reconnecting"),
    });
    const joined = new Promise((resolve, reject) => { this.joinedWaiter = { resolve, reject }; });
    this.publisher.send({ message: this.body({ request: "join", ptype: "publisher", display: name }) });
    await joined;
    const tracks = [{ type: "data" }];
    tracks.unshift(micTrack ? { type: "audio", capture: micTrack, recv: false }
      : { type: "audio", capture: false, recv: false });
    if (camTrack) tracks.splice(1, 0, { type: "video", capture: camTrack, recv: false });
    await new Promise((resolve, reject) => this.publisher.createOffer({
      tracks,
      success: (jsep) => {
        this.publisher.send({ message: { request: "publish", display: name }, jsep });
        resolve();
      },
      error: (error) => reject(new Error(`Could not publish: ${error.message || error}`)),
    }));
    this.pc = this.publisher.webrtcStuff ? this.publisher.webrtcStuff.pc : null;
    this.askServer(); // not awaited: the room is usable while the interpreter joins
    if (settings.privacy) this.notice("info", "transcribed", settings.privacy);
    this.emitPeople();
    return { participant: `f${this.myId}`, room: String(this.room) };
  }

  body(extra) {
    return this.pin ? { room: this.room, pin: this.pin, ...extra } : { room: this.room, ...extra };
  }

  attach(callbacks) {
    return new Promise((resolve, reject) => {
      this.janus.attach({ plugin: PLUGIN, success: resolve, error: reject, ...callbacks });
    });
  }

  iceState(state) {
    if (state === "failed") this.handlers.onState("failed");
    if (state === "disconnected") this.handlers.onState("reconnecting");
  }

  opened() {
    this.handlers.onOpen();
    clearInterval(this.listenTimer);
    this.listenTimer = setInterval(() => this.sendListen(), LISTEN_EVERY_MS);
    this.sendListen();
  }

  /** Ask the Interpres server to put its interpreter in this room, with our language. */
  async askServer() {
    if (!this.listen) return;
    try {
      const response = await fetch(`/api/janus/rooms/${this.room}/interpreter`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...authorization(this.token) },
        body: JSON.stringify(this.pin ? { lang: this.listen, pin: this.pin } : { lang: this.listen }),
      });
      if (!response.ok) {
        const body = await readJson(response);
        throw new Error((body && body.error) || `HTTP ${response.status}`);
      }
    } catch (error) {
      this.notice("error", "interpreter", `The interpreter could not join: ${error.message}`);
    }
  }

  /** What the bot hears on our data channel: the language we want (it keeps a language
   * alive), and, naming our feed (Janus does not say whose a message is), the language we
   * speak and whether we opted out. Sent again every minute, and when the interpreter
   * arrives (it may come after we said it). */
  sendListen() {
    if (!this.publisher) return;
    const say = (message) => this.publisher.data({ text: JSON.stringify(message), error: () => {} });
    if (this.listen) say({ type: "listen", lang: this.listen });
    say({ type: "speak", lang: this.speak, feed: this.myId });
    say({ type: "transcribe", enabled: this.transcribe, feed: this.myId });
  }

  notice(level, code, text) {
    this.handlers.onMessage({ type: "notice", level, code, text });
  }

  onPublisherMessage(msg, jsep) {
    if (msg.error) {
      const error = new Error(`Janus: ${msg.error}`);
      if (this.joinedWaiter && this.myId === null) this.joinedWaiter.reject(error);
      else this.notice("error", "janus", error.message);
      return;
    }
    if (msg.videoroom === "joined") {
      this.myId = msg.id;
      this.privateId = msg.private_id;
      if (this.joinedWaiter) this.joinedWaiter.resolve();
    }
    if (jsep) this.publisher.handleRemoteJsep({ jsep });
    for (const publisher of msg.publishers || []) this.publishers.set(publisher.id, publisher);
    const gone = msg.unpublished || msg.leaving;
    if (gone && gone !== "ok") this.forget(gone);
    if (msg.publishers || gone) {
      this.emitPeople();
      this.subscribeOthers().catch((error) => this.notice("error", "janus", String(error)));
      this.subscribeInterpreter().catch((error) => this.notice("error", "janus", String(error)));
    }
  }

  /** A publisher left (Janus drops their streams from our subscription by itself). */
  forget(feed) {
    this.publishers.delete(feed);
    for (const key of [...this.subscribed]) if (key.startsWith(`${feed}:`)) this.subscribed.delete(key);
    for (const [mid, stream] of this.mids) {
      if (stream.feed === feed) {
        this.handlers.onMedia(`f${feed}`, stream.type, null);
        this.mids.delete(mid);
      }
    }
  }

  people() {
    return [...this.publishers.values()].filter((p) => !isBot(p) && p.id !== this.myId);
  }

  emitPeople() {
    const me = { id: `f${this.myId}`, name: this.name, you: true, speak: "", listen: this.listen };
    const others = this.people().map((p) => ({ id: `f${p.id}`, name: p.display || `Guest ${p.id}`, speak: "", listen: "" }));
    this.handlers.onMessage({ type: "participants", participants: [me, ...others] });
  }

  /** Everyone's audio and video on one multistream subscriber handle. One negotiation at
   * a time: streams that appear meanwhile wait for the next. */
  async subscribeOthers() {
    for (const publisher of this.people()) {
      // By stream, not by person: a camera turned on later is a new stream to take.
      for (const stream of publisher.streams || []) {
        const key = `${publisher.id}:${stream.mid}`;
        if ((stream.type !== "audio" && stream.type !== "video") || stream.disabled
            || this.subscribed.has(key)) continue;
        this.subscribed.add(key);
        this.pending.push({ feed: publisher.id, mid: stream.mid });
      }
    }
    await this.flushSubscriptions();
  }

  async flushSubscriptions() {
    if (this.negotiating || !this.pending.length || this.closed) return;
    this.negotiating = true;
    const streams = this.pending.splice(0);
    if (this.subscriber) {
      this.subscriber.send({ message: { request: "subscribe", streams } });
      return;
    }
    this.subscriber = await this.attach({
      onmessage: (msg, jsep) => {
        this.learnStreams(msg.streams);
        if (msg.error) {
          this.notice("warning", "janus", `Janus: ${msg.error}`);
          this.negotiated();
        } else if (jsep) {
          this.answer(this.subscriber, jsep, () => this.negotiated());
        }
      },
      onremotetrack: (track, mid, on) => {
        const stream = this.mids.get(String(mid));
        if (!stream) return;
        this.handlers.onMedia(`f${stream.feed}`, stream.type, on ? track : null);
      },
    });
    this.subscriber.send({
      message: this.body({ request: "join", ptype: "subscriber", private_id: this.privateId, streams }),
    });
  }

  negotiated() {
    this.negotiating = false;
    this.flushSubscriptions().catch((error) => this.notice("error", "janus", String(error)));
  }

  learnStreams(streams) {
    for (const stream of streams || []) {
      if (stream.mid != null && stream.feed_id != null) {
        this.mids.set(String(stream.mid), { feed: stream.feed_id, type: stream.type });
      }
    }
  }

  answer(handle, jsep, done = () => {}) {
    if (!jsep) return;
    handle.createAnswer({
      jsep,
      tracks: [{ type: "data" }],
      success: (ours) => {
        handle.send({ message: { request: "start" }, jsep: ours });
        done();
      },
      error: (error) => {
        this.notice("error", "janus", `Could not receive: ${error.message || error}`);
        done();
      },
    });
  }

  /** The interpreter's feed in our language: its voice and its captions. */
  async subscribeInterpreter() {
    const lang = this.listen;
    // The newest feed in our language (publishers keep the order Janus announced them):
    // an interpreter restarted elsewhere (its machine lost) publishes again while Janus
    // still lists its old, silent feed until that session times out.
    const feed = [...this.publishers.values()].findLast((p) => interpreterLang(p) === lang);
    if (this.interpreterFeed !== null && (!feed || feed.id !== this.interpreterFeed)) {
      if (!this.interpreter) return; // still attaching: the next event will switch
      this.interpreter.detach();
      this.interpreter = null;
      if (feed && this.interpreterLang === lang) {
        this.notice("warning", "interpreter", "The interpreter restarted; captions resume.");
      }
      this.interpreterFeed = null;
      this.handlers.onMedia("interpretation", "audio", null);
    }
    if (!lang || !feed || this.interpreter || this.interpreterFeed === feed.id) return;
    this.interpreterFeed = feed.id; // before the await: a second call must not attach again
    this.interpreterLang = lang;
    this.interpreter = await this.attach({
      onmessage: (msg, jsep) => this.answer(this.interpreter, jsep),
      onremotetrack: (track, mid, on) => {
        if (track.kind !== "audio") return;
        this.handlers.onMedia("interpretation", "audio", on ? track : null);
      },
      ondata: (data) => {
        let message;
        try {
          message = JSON.parse(data);
        } catch {
          return;
        }
        if (message && typeof message === "object") this.handlers.onMessage(message);
      },
    });
    this.interpreter.send({
      message: this.body({ request: "join", ptype: "subscriber", streams: [{ feed: feed.id }] }),
    });
    // The interpreter is here: tell it who we are. It publishes its feeds before it
    // subscribes to ours, so say it again a little later too.
    this.sendListen();
    for (const delay of [2000, 6000]) setTimeout(() => this.sendListen(), delay);
  }

  send(message) {
    if (message.type === "listen" && typeof message.lang === "string") {
      if (message.lang !== this.listen) {
        this.listen = message.lang;
        this.askServer();
        this.sendListen();
        this.subscribeInterpreter().catch((error) => this.notice("error", "janus", String(error)));
      }
      return true;
    }
    if (message.type === "speak" && typeof message.lang === "string") {
      this.speak = message.lang;
      this.sendListen();
      return true;
    }
    if (message.type === "transcribe" && typeof message.enabled === "boolean") {
      this.transcribe = message.enabled;
      this.sendListen();
      return true;
    }
    return false; // profanity and the rest: the Janus interpreter takes no other settings
  }

  /** Camera on (a track) or off (null). Off stops sending (the others' pages see no more
   * frames and show initials); on again reuses the video sender, or adds one (renegotiated
   * with Janus) when we joined without a camera. */
  setCamera(track) {
    if (!this.publisher) return Promise.resolve();
    const pc = this.publisher.webrtcStuff && this.publisher.webrtcStuff.pc;
    const video = pc && pc.getTransceivers().find((t) => t.receiver.track && t.receiver.track.kind === "video");
    const fail = (error) => this.notice("warning", "camera", `Camera: ${error.message || error}`);
    if (video) {
      return video.sender.replaceTrack(track).catch(fail);
    }
    if (!track) return Promise.resolve();
    return new Promise((resolve) => this.publisher.createOffer({
      tracks: [{ type: "video", capture: track, recv: false, add: true }],
      success: (jsep) => {
        this.publisher.send({ message: { request: "configure" }, jsep });
        resolve();
      },
      error: (error) => {
        fail(error);
        resolve();
      },
    }));
  }

  close() {
    this.closed = true;
    clearInterval(this.listenTimer);
    if (this.janus) this.janus.destroy({ unload: true });
  }
}
