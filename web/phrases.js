// The room's phrase list (names and terms recognition prefers and translation keeps): shown
// to everyone, edited by anyone who may speak. The server is the truth: every change is a
// PUT of the whole list, and every page redraws from the "phrases" message that follows.

import { authorization } from "./connection.js";

export class PhrasesView {
  constructor({ list, form, input, say, error, count, state, onError }) {
    Object.assign(this, { list, form, input, say, error, count, state, onError });
    this.phrases = [];
    this.token = null;
    this.editable = true;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.add();
    });
  }

  /** Who we are: the room, our invitation token (if any) and whether we may edit. */
  configure({ token, editable }) {
    this.token = token || null;
    this.editable = editable;
    this.form.hidden = !editable;
    this.render();
  }

  set(phrases) {
    this.phrases = Array.isArray(phrases)
      ? phrases.filter((p) => p && typeof p.term === "string")
      : [];
    this.render();
  }

  render() {
    this.list.replaceChildren();
    this.count.textContent = this.phrases.length ? String(this.phrases.length) : "";
    if (!this.phrases.length) {
      const empty = document.createElement("li");
      empty.className = "phrases-empty";
      empty.textContent = "None yet. Add names and terms the room uses.";
      this.list.append(empty);
      return;
    }
    for (const phrase of this.phrases) {
      const item = document.createElement("li");
      item.className = "phrase";
      const term = document.createElement("span");
      term.className = "phrase-term";
      term.textContent = phrase.term;
      item.append(term);
      if (phrase.say) {
        const say = document.createElement("span");
        say.className = "phrase-say";
        say.textContent = `said “${phrase.say}”`;
        item.append(say);
      }
      if (this.editable) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "phrase-remove";
        remove.setAttribute("aria-label", `Remove ${phrase.term}`);
        remove.textContent = "×";
        remove.addEventListener("click", () => this.save(this.phrases.filter((p) => p !== phrase)));
        item.append(remove);
      }
      this.list.append(item);
    }
  }

  async add() {
    const term = this.input.value.trim();
    if (!term) return;
    if (this.phrases.some((p) => p.term.toLowerCase() === term.toLowerCase())) {
      this.showError(`“${term}” is already on the list.`);
      return;
    }
    const phrase = { term };
    const say = this.say.value.trim();
    if (say) phrase.say = say;
    if (await this.save([...this.phrases, phrase])) {
      this.input.value = "";
      this.say.value = "";
    }
  }

  async save(phrases) {
    this.showError("");
    try {
      const response = await fetch(`/api/rooms/${encodeURIComponent(this.state.room)}/phrases`, {
        method: "PUT",
        headers: { "Content-Type": "application/json", ...authorization(this.token) },
        body: JSON.stringify({ phrases }),
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) throw new Error((body && body.error) || `HTTP ${response.status}`);
      this.set(body.phrases); // the "phrases" message follows for everyone else
      return true;
    } catch (err) {
      this.showError(`Could not save the list: ${err.message}`);
      return false;
    }
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }
}
