// One peer connection to the server's room: fixed transceivers, a complete offer, and the
// "captions" data channel. Nothing here is ever renegotiated.

const ICE_GATHERING_TIMEOUT_MS = 5000;
const PING_INTERVAL_MS = 5000;

/** The header that carries a join token, if there is one. */
export function authorization(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** TURN servers with credentials minted for this join (none when the server has no TURN). */
async function iceServers(room, token) {
  try {
    const response = await fetch(`/api/ice?room=${encodeURIComponent(room)}`,
                                 { headers: authorization(token) });
    if (!response.ok) return [];
    const body = await response.json();
    return Array.isArray(body.iceServers) ? body.iceServers : [];
  } catch (error) {
    return []; // no TURN: direct connections still work on open networks
  }
}

export class RoomConnection {
  /**
   * handlers: onMessage(msg), onState(state), onRtt(ms), onOpen()
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.pc = null;
    this.channel = null;
    this.pingTimer = null;
    this.closed = false;
  }

  /** Connects and resolves with the server's answer fields ({participant, room}). */
  async join({ room, name, speak, listen, profanity, micTrack, token }) {
    const pc = new RTCPeerConnection({ iceServers: await iceServers(room, token) });
    this.pc = pc;
    // Order matters: transceiver 0 carries the mic up and the original mix down,
    // transceiver 1 the interpretation, then the data channel.
    // A listen-only invitation sends no microphone: the first transceiver only receives.
    pc.addTransceiver(micTrack || "audio", { direction: micTrack ? "sendrecv" : "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    this.channel = pc.createDataChannel("captions", { ordered: true });
    this.wireChannel(this.channel);
    pc.addEventListener("connectionstatechange", () => this.reportState());
    pc.addEventListener("iceconnectionstatechange", () => this.reportState());
    this.handlers.onState("connecting");

    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringComplete(pc);
    if (this.closed) throw new Error("Cancelled.");

    const response = await fetch(`/api/rooms/${encodeURIComponent(room)}/offer`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authorization(token) },
      body: JSON.stringify({
        sdp: pc.localDescription.sdp, type: pc.localDescription.type, name, speak, listen,
        profanity: profanity || "raw",
      }),
    });
    const body = await readJson(response);
    if (!response.ok) {
      throw new Error((body && body.error) || `The server refused to join (${response.status}).`);
    }
    if (!body || !body.sdp) throw new Error("The server sent no answer.");
    if (this.closed) throw new Error("Cancelled.");
    await pc.setRemoteDescription({ type: body.type || "answer", sdp: body.sdp });
    return { participant: body.participant, room: body.room || room };
  }

  /** The incoming tracks, by transceiver rather than by arrival order. */
  remoteTracks() {
    const [main, interpretation] = this.pc.getTransceivers();
    return { original: main.receiver.track, interpretation: interpretation.receiver.track };
  }

  send(message) {
    if (this.channel && this.channel.readyState === "open") {
      this.channel.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  wireChannel(channel) {
    channel.addEventListener("open", () => {
      this.handlers.onOpen();
      this.ping();
      this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
    });
    channel.addEventListener("close", () => clearInterval(this.pingTimer));
    channel.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!message || typeof message !== "object") return;
      if (message.type === "pong" && typeof message.t === "number") {
        this.handlers.onRtt(Math.max(0, performance.now() - message.t));
        return;
      }
      this.handlers.onMessage(message);
    });
  }

  ping() {
    this.send({ type: "ping", t: performance.now() });
  }

  reportState() {
    if (!this.pc || this.closed) return;
    const state = this.pc.connectionState || this.pc.iceConnectionState;
    const map = {
      new: "connecting", checking: "connecting", connecting: "connecting",
      connected: "connected", completed: "connected",
      disconnected: "reconnecting", failed: "failed", closed: "closed",
    };
    this.handlers.onState(map[state] || state);
  }

  close() {
    this.closed = true;
    clearInterval(this.pingTimer);
    if (this.channel) this.channel.close();
    if (this.pc) this.pc.close();
  }
}

function iceGatheringComplete(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    // No ICE servers means host candidates only: seconds at most. Send what we have.
    const timer = setTimeout(done, ICE_GATHERING_TIMEOUT_MS);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === "complete") done();
    }
    pc.addEventListener("icegatheringstatechange", check);
  });
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}
