// Video tiles for a meeting on Janus: one per person (you included), their camera or their
// initials, who is speaking, and their live caption in your language over the bottom of the
// tile (committed words plain, the tail lighter). Sound is not played here (the Mixer does).

const CAPTION_LINGER_MS = 6000;
const STALE_MS = 1500;

function initials(name) {
  const words = String(name || "?").trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? words[0][0] + words[words.length - 1][0] : (words[0] || "?").slice(0, 2);
  return letters.toUpperCase();
}

export class VideoGrid {
  constructor({ container, state }) {
    this.container = container;
    this.state = state;
    this.tiles = new Map(); // person id -> { item, video, name, caption, ... }
    this.videos = new Map(); // person id -> MediaStreamTrack
    // A camera turned off, or a stalled network, sends no more frames: after STALE_MS
    // without one, the tile shows initials (a frozen face helps nobody).
    this.watch = setInterval(() => this.markStale(), 500);
  }

  markStale() {
    const now = performance.now();
    for (const tile of this.tiles.values()) {
      const live = Boolean(tile.video.srcObject) && now - (tile.lastFrame || 0) < STALE_MS;
      tile.item.classList.toggle("camera-off", !live);
    }
  }

  /** The people in the room (from the participants message), in order: you first. */
  setPeople(people) {
    const ids = new Set(people.map((p) => p.id));
    for (const [id, tile] of this.tiles) {
      if (!ids.has(id)) {
        tile.item.remove();
        this.tiles.delete(id);
      }
    }
    const ordered = [...people].sort((a, b) => Number(b.you) - Number(a.you));
    for (const person of ordered) {
      const tile = this.tiles.get(person.id) || this.createTile(person);
      tile.label.textContent = person.you ? `${person.name} (you)` : person.name;
      tile.initials.textContent = initials(person.name);
      this.container.append(tile.item); // keeps the order
    }
    this.container.dataset.count = String(this.tiles.size);
  }

  createTile(person) {
    const item = document.createElement("li");
    item.className = "tile";
    item.dataset.person = person.id;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // voices play through the Mixer
    const face = document.createElement("div");
    face.className = "tile-initials";
    face.setAttribute("aria-hidden", "true");
    const caption = document.createElement("p");
    caption.className = "tile-caption";
    caption.setAttribute("aria-hidden", "true"); // the captions panel is the accessible log
    const committed = document.createElement("span");
    committed.className = "committed";
    const tail = document.createElement("span");
    tail.className = "tail";
    caption.append(committed, tail);
    const label = document.createElement("span");
    label.className = "tile-name";
    item.append(video, face, caption, label);
    const tile = { item, video, initials: face, committed, tail, label, timer: null };
    this.tiles.set(person.id, tile);
    const track = this.videos.get(person.id);
    this.showVideo(tile, track || null);
    return tile;
  }

  /** A person's camera track came (track) or went (null). */
  setVideo(id, track) {
    if (track) this.videos.set(id, track);
    else this.videos.delete(id);
    const tile = this.tiles.get(id);
    if (tile) this.showVideo(tile, track);
  }

  showVideo(tile, track) {
    const on = Boolean(track) && track.readyState !== "ended";
    tile.item.classList.toggle("camera-off", !on);
    if (!on) {
      tile.video.srcObject = null;
      tile.lastFrame = 0;
      return;
    }
    tile.video.srcObject = new MediaStream([track]);
    tile.video.play().catch(() => {});
    const onFrame = () => {
      tile.lastFrame = performance.now();
      if (tile.video.srcObject) tile.video.requestVideoFrameCallback(onFrame);
    };
    if (tile.video.requestVideoFrameCallback) {
      tile.video.requestVideoFrameCallback(onFrame);
    } else {
      tile.lastFrame = Infinity; // no way to tell: trust the track
    }
  }

  setSpeaking(id, speaking) {
    const tile = this.tiles.get(id);
    if (tile) tile.item.classList.toggle("speaking", Boolean(speaking));
  }

  /** The latest caption of a speaker, in the listener's language. */
  showCaption(speakerId, caption) {
    const tile = this.tiles.get(speakerId);
    if (!tile || !caption) return;
    const text = caption.text || "";
    const committed = text.startsWith(caption.committed || "") ? caption.committed || "" : "";
    tile.committed.textContent = caption.final ? text : committed;
    tile.tail.textContent = caption.final ? "" : text.slice(committed.length);
    tile.item.classList.add("has-caption");
    clearTimeout(tile.timer);
    if (caption.final) {
      tile.timer = setTimeout(() => tile.item.classList.remove("has-caption"), CAPTION_LINGER_MS);
    }
  }

  clear() {
    for (const tile of this.tiles.values()) {
      tile.video.srcObject = null;
      tile.item.remove();
    }
    this.tiles.clear();
    this.videos.clear();
  }
}
