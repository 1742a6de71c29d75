// Builds a BPF program from instructions whose jumps name labels, then resolves them to offsets.
// A conditional jump reaches at most 255 instructions forward (jt/jf are u8), so a farther target
// gets a trampoline: the jump lands on an unconditional BPF_JA placed right after it, whose k is
// 32 bits. Inserting trampolines can push other jumps out of reach, so resolution repeats until
// every jump fits (each jump gets trampolines once, so it ends).
import { BPF_JA, BPF_JMP, BPF_K, BPF_RET, MAX_COND_JUMP, type SockFilter } from './bpf.js';

/** A position in the program, placed once with Assembler.place. */
export interface Label {
  readonly id: number;
}

type Item =
  | { readonly kind: 'label'; readonly label: Label }
  | { readonly kind: 'stmt'; readonly code: number; readonly k: number }
  | { readonly kind: 'jump'; readonly code: number; readonly k: number; jt: Label; jf: Label }
  | { readonly kind: 'ja'; readonly target: Label };

/** `next`: the instruction after the jump. */
export type JumpTarget = Label | 'next';

export class Assembler {
  private readonly items: Item[] = [];
  private nextId = 0;
  private readonly placed = new Set<number>();

  label(): Label {
    return { id: this.nextId++ };
  }

  place(label: Label): void {
    if (this.placed.has(label.id)) throw new Error(`label ${label.id} placed twice`);
    this.placed.add(label.id);
    this.items.push({ kind: 'label', label });
  }

  /** A non-jump instruction: load, ALU or return. */
  stmt(code: number, k: number): void {
    this.items.push({ kind: 'stmt', code, k: k >>> 0 });
  }

  ret(action: number): void {
    this.stmt(BPF_RET | BPF_K, action);
  }

  /** A conditional jump (BPF_JMP | BPF_JEQ/JGT/JGE/JSET | BPF_K) against k. */
  jump(code: number, k: number, jt: JumpTarget, jf: JumpTarget): void {
    const next = jt === 'next' || jf === 'next' ? this.label() : undefined;
    this.items.push({ kind: 'jump', code, k: k >>> 0, jt: jt === 'next' ? next! : jt, jf: jf === 'next' ? next! : jf });
    if (next !== undefined) this.place(next);
  }

  ja(target: Label): void {
    this.items.push({ kind: 'ja', target });
  }

  /** The finished program. Throws (a compiler bug, not a user error) on a backward or unplaced label. */
  assemble(): SockFilter[] {
    while (this.addTrampolines()) {
      // Repeat: the trampolines just added may have pushed other jumps past 255.
    }
    const at = this.positions();
    const out: SockFilter[] = [];
    for (const item of this.items) {
      if (item.kind === 'label') continue;
      const here = out.length;
      if (item.kind === 'stmt') out.push({ code: item.code, jt: 0, jf: 0, k: item.k });
      else if (item.kind === 'ja') out.push({ code: BPF_JMP | BPF_JA | BPF_K, jt: 0, jf: 0, k: offset(at, here, item.target) });
      else out.push({ code: item.code, jt: offset(at, here, item.jt), jf: offset(at, here, item.jf), k: item.k });
    }
    return out;
  }

  /** Instruction index of each label. */
  private positions(): Map<number, number> {
    const at = new Map<number, number>();
    let n = 0;
    for (const item of this.items) {
      if (item.kind === 'label') at.set(item.label.id, n);
      else n++;
    }
    return at;
  }

  /** Gives every too-far conditional jump its trampolines; false when none was needed. */
  private addTrampolines(): boolean {
    const at = this.positions();
    let changed = false;
    let n = 0;
    for (let i = 0; i < this.items.length; i++) {
      const item = this.items[i]!;
      if (item.kind === 'label') continue;
      const here = n++;
      if (item.kind !== 'jump') continue;
      const inserted: Item[] = [];
      for (const side of ['jt', 'jf'] as const) {
        const target = item[side];
        if (offset(at, here, target) <= MAX_COND_JUMP) continue;
        const hop = this.label();
        this.placed.add(hop.id);
        inserted.push({ kind: 'label', label: hop }, { kind: 'ja', target });
        item[side] = hop;
      }
      if (inserted.length > 0) {
        this.items.splice(i + 1, 0, ...inserted);
        changed = true;
        // Positions after this point moved; the next pass sees them.
        return changed;
      }
    }
    return changed;
  }
}

function offset(at: Map<number, number>, here: number, target: Label): number {
  const to = at.get(target.id);
  if (to === undefined) throw new Error(`label ${target.id} is never placed`);
  if (to <= here) throw new Error(`BPF jumps only forward: label ${target.id} is at ${to}, the jump at ${here}`);
  return to - here - 1;
}
