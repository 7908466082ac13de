// Caption state per segment and its rendering. Message text only ever goes through
// textContent.

const FOLLOW_THRESHOLD_PX = 48;

/**
 * Folds one caption message into state.captions; returns the segment id when something
 * changed, else null. Stale revisions and revisions after a final are ignored.
 */
export function applyCaption(state, msg) {
  if (typeof msg.segment !== "string" || typeof msg.lang !== "string") return null;
  let entry = state.captions[msg.segment];
  if (!entry) {
    entry = {
      segment: msg.segment,
      speaker: { id: "", name: "" },
      source_lang: msg.source_lang || "",
      received_at: Date.now(),
      langs: {},
    };
    state.captions[msg.segment] = entry;
    state.order.push(msg.segment);
  }
  if (msg.speaker && typeof msg.speaker === "object") {
    entry.speaker = { id: String(msg.speaker.id || ""), name: String(msg.speaker.name || "") };
  }
  if (msg.source_lang) entry.source_lang = String(msg.source_lang);

  const previous = entry.langs[msg.lang];
  const rev = Number.isFinite(msg.rev) ? msg.rev : 0;
  if (previous && (previous.final || rev < previous.rev)) return null;
  entry.langs[msg.lang] = {
    lang: msg.lang,
    text: String(msg.text ?? ""),
    committed: String(msg.committed ?? ""),
    rev,
    final: Boolean(msg.final),
    t0: msg.t0,
    t1: msg.t1,
    engine: msg.engine,
    received_at: performance.now(),
  };
  entry.latest_lang = msg.lang;
  if (msg.lang !== entry.source_lang) entry.latest_target = msg.lang;
  return msg.segment;
}

/** The caption to show large: the listen language, else the latest translation, else the source. */
export function primaryCaption(entry, listen) {
  return entry.langs[listen] || entry.langs[entry.latest_target] ||
    entry.langs[entry.source_lang] || entry.langs[entry.latest_lang];
}

export class CaptionView {
  constructor({ container, empty, jumpButton, state }) {
    this.container = container;
    this.empty = empty;
    this.jumpButton = jumpButton;
    this.state = state;
    this.blocks = new Map();
    this.following = true;
    container.addEventListener("scroll", () => this.onScroll(), { passive: true });
    jumpButton.addEventListener("click", () => this.jumpToLive());
  }

  clear() {
    for (const block of this.blocks.values()) block.remove();
    this.blocks.clear();
    this.empty.hidden = false;
    this.following = true;
    this.jumpButton.hidden = true;
  }

  update(segmentId) {
    this.renderBlock(segmentId);
    this.afterRender();
  }

  renderAll() {
    for (const segmentId of this.state.order) this.renderBlock(segmentId);
    this.afterRender();
  }

  renderBlock(segmentId) {
    const entry = this.state.captions[segmentId];
    if (!entry) return;
    let block = this.blocks.get(segmentId);
    if (!block) {
      block = this.createBlock(entry);
      this.blocks.set(segmentId, block);
      this.container.append(block);
      this.empty.hidden = true;
    }
    const primary = primaryCaption(entry, this.state.listen);
    if (!primary) return;
    block.dataset.final = String(primary.final);
    block.dataset.lang = primary.lang;
    block.querySelector(".speaker").textContent = entry.speaker.name || "Someone";
    const direction = entry.source_lang && entry.source_lang !== primary.lang
      ? `${entry.source_lang} → ${primary.lang}` : primary.lang;
    block.querySelector(".lang-tag").textContent = direction.toUpperCase();
    fillText(block.querySelector(".caption-text"), primary);

    const originalLine = block.querySelector(".caption-original");
    const original = entry.langs[entry.source_lang];
    const showOriginal = this.state.showOriginal && original && original.lang !== primary.lang;
    originalLine.hidden = !showOriginal;
    if (showOriginal) fillText(originalLine, original);
  }

  createBlock(entry) {
    const block = document.createElement("article");
    block.className = "caption";
    block.dataset.segment = entry.segment;
    block.dataset.speaker = entry.speaker.id;
    const lastBlock = this.container.querySelector(".caption:last-of-type");
    if (lastBlock && lastBlock.dataset.speaker === entry.speaker.id) {
      block.classList.add("same-speaker");
    }
    if (entry.speaker.id && entry.speaker.id === this.state.participant) {
      block.classList.add("mine");
    }

    const meta = document.createElement("header");
    meta.className = "caption-meta";
    const speaker = document.createElement("span");
    speaker.className = "speaker";
    const tag = document.createElement("span");
    tag.className = "lang-tag";
    const time = document.createElement("time");
    const when = new Date(entry.received_at);
    time.dateTime = when.toISOString();
    time.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    meta.append(speaker, tag, time);

    const text = document.createElement("p");
    text.className = "caption-text";
    const original = document.createElement("p");
    original.className = "caption-original";
    original.hidden = true;
    block.append(meta, text, original);
    return block;
  }

  onScroll() {
    const { scrollTop, scrollHeight, clientHeight } = this.container;
    this.following = scrollHeight - scrollTop - clientHeight <= FOLLOW_THRESHOLD_PX;
    this.jumpButton.hidden = this.following;
  }

  afterRender() {
    if (this.following) {
      this.container.scrollTop = this.container.scrollHeight;
    } else {
      this.jumpButton.hidden = false;
    }
  }

  jumpToLive() {
    this.following = true;
    this.jumpButton.hidden = true;
    // Instant, not smooth: a smooth scroll's intermediate positions read as the user
    // scrolling away from the live edge.
    this.container.scrollTop = this.container.scrollHeight;
  }
}

/** Committed words solid; the tail that may still change, lighter. */
function fillText(paragraph, caption) {
  let stable = "";
  let tentative = caption.text;
  if (caption.final) {
    stable = caption.text;
    tentative = "";
  } else if (caption.committed && caption.text.startsWith(caption.committed)) {
    stable = caption.committed;
    tentative = caption.text.slice(caption.committed.length);
  }
  paragraph.lang = caption.lang;
  let stableSpan = paragraph.querySelector(".committed");
  let tentativeSpan = paragraph.querySelector(".tentative");
  if (!stableSpan) {
    stableSpan = document.createElement("span");
    stableSpan.className = "committed";
    tentativeSpan = document.createElement("span");
    tentativeSpan.className = "tentative";
    paragraph.append(stableSpan, tentativeSpan);
  }
  stableSpan.textContent = stable;
  tentativeSpan.textContent = tentative;
}
