/* The door page's state machine: named states and the moves allowed between them.
 *
 * loading → setup (no area chosen yet) or ready; setup → ready; ready → checking; checking → admit, deny or
 * error; a result goes back to ready after a moment, or straight to checking when the next badge is scanned;
 * any scanning state → setup ("change area or door"). The state is on #door as data-state, and every move
 * dispatches "door:state" on the document (detail: {state, from}) for the screens and for tests.
 */

const MOVES = {
  loading: ["setup", "ready"],
  setup: ["ready"],
  ready: ["checking", "setup"],
  checking: ["admit", "deny", "error"],
  admit: ["checking", "ready", "setup"],
  deny: ["checking", "ready", "setup"],
  error: ["checking", "ready", "setup"],
};

export class Machine {
  constructor(root) {
    this.root = root;
    this.state = "loading";
    root.dataset.state = this.state;
  }

  /** Whether the page may move to ``next`` now. */
  can(next) {
    return MOVES[this.state].includes(next);
  }

  /** Move to ``next``. :throws: Error for a move the table does not allow (a bug, not a person's doing). */
  go(next) {
    if (!this.can(next)) throw new Error(`door: no move from ${this.state} to ${next}`);
    const from = this.state;
    this.state = next;
    this.root.dataset.state = next;
    document.dispatchEvent(new CustomEvent("door:state", { detail: { state: next, from } }));
  }

  /** Whether a scan is welcome now (a result on screen does not hold up the next badge). */
  get scanning() {
    return ["ready", "admit", "deny", "error"].includes(this.state);
  }
}
