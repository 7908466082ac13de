// The participants list (side panel) and its compact strip (phones), with speaking dots.

export class PeopleView {
  constructor({ list, strip, count, state, languageName }) {
    this.list = list;
    this.strip = strip;
    this.count = count;
    this.state = state;
    this.languageName = languageName;
  }

  setParticipants(participants) {
    this.state.participants = participants
      .filter((p) => p && typeof p === "object" && p.id != null)
      .map((p) => ({
        id: String(p.id), name: String(p.name || ""), speak: String(p.speak || ""),
        listen: String(p.listen || ""), you: Boolean(p.you),
        listenOnly: p.listen_only === true, transcribed: p.transcribed !== false,
      }));
    const me = this.state.participants.find((p) => p.you);
    if (me) this.state.participant = me.id;
    this.render();
  }

  setSpeaking(id, speaking) {
    this.state.speaking[String(id)] = Boolean(speaking);
    for (const item of this.itemsFor(String(id))) item.classList.toggle("speaking", Boolean(speaking));
  }

  itemsFor(id) {
    const selector = `li[data-participant="${CSS.escape(id)}"]`;
    return [...this.list.querySelectorAll(selector), ...this.strip.querySelectorAll(selector)];
  }

  render() {
    const people = [...this.state.participants].sort((a, b) => Number(b.you) - Number(a.you));
    this.count.textContent = people.length ? `(${people.length})` : "";
    this.list.replaceChildren(...people.map((p) => this.listItem(p)));
    this.strip.replaceChildren(...people.map((p) => this.chip(p)));
  }

  listItem(person) {
    const item = this.baseItem(person);
    const details = document.createElement("span");
    details.className = "person-langs";
    let speaks = person.speak === "auto" || !person.speak
      ? "Auto-detect" : this.languageName(person.speak);
    if (person.listenOnly) speaks = "Listening only";
    else if (!person.transcribed) speaks = "Not transcribed";
    details.textContent = `${speaks} → ${this.languageName(person.listen)}`;
    details.title = `Speaks: ${speaks}. Hears: ${this.languageName(person.listen)}.`;
    item.append(details);
    return item;
  }

  chip(person) {
    return this.baseItem(person);
  }

  baseItem(person) {
    const item = document.createElement("li");
    item.dataset.participant = person.id;
    item.classList.toggle("speaking", Boolean(this.state.speaking[person.id]));
    item.classList.toggle("you", person.you);
    const dot = document.createElement("span");
    dot.className = "speaking-dot";
    dot.setAttribute("aria-hidden", "true");
    const name = document.createElement("span");
    name.className = "person-name";
    name.textContent = (person.name || "Someone") + (person.you ? " (you)" : "");
    item.append(dot, name);
    return item;
  }
}
