// The tables a migration creates, read from its SQL (the same text the migration runner executes),
// with their columns and the comments written next to them.
import type { TableSource } from './input.js';

export interface TableColumn {
  readonly name: string;
  readonly definition: string;
  readonly comment: string;
}

export interface TableDoc {
  readonly name: string;
  readonly owner: string;
  readonly origin: string;
  readonly columns: readonly TableColumn[];
}

const CREATE = /CREATE TABLE (?:IF NOT EXISTS )?([a-z_][a-z0-9_]*)\s*\(/gi;

/** Splits a CREATE TABLE body at top-level commas, keeping each part's `--` comment. */
function columnsOf(body: string): TableColumn[] {
  const columns: TableColumn[] = [];
  let depth = 0;
  let part = '';
  let comment = '';
  const flush = () => {
    const text = part.trim().replace(/\s+/g, ' ');
    const name = /^([a-z_][a-z0-9_]*)\s/i.exec(text)?.[1];
    if (text && name && !/^(PRIMARY|UNIQUE|CONSTRAINT|CHECK|FOREIGN)$/i.test(name))
      columns.push({ name, definition: text.slice(name.length).trim(), comment: comment.trim() });
    part = '';
    comment = '';
  };
  for (const rawLine of body.split('\n')) {
    const at = rawLine.indexOf('--');
    const code = at >= 0 ? rawLine.slice(0, at) : rawLine;
    const lineComment = at >= 0 ? rawLine.slice(at + 2).trim() : '';
    let flushedOnLine = false;
    for (const ch of code) {
      if (ch === '(') depth++;
      if (ch === ')') depth--;
      if (ch === ',' && depth === 0) {
        // A comment after the comma belongs to the column that the comma ends.
        if (lineComment) comment = `${comment} ${lineComment}`;
        flush();
        flushedOnLine = true;
        continue;
      }
      part += ch;
    }
    part += '\n';
    if (lineComment && !flushedOnLine) comment = `${comment} ${lineComment}`;
  }
  flush();
  return columns;
}

/** Every table the sources create, in order. */
export function tablesOf(sources: readonly TableSource[]): TableDoc[] {
  const out: TableDoc[] = [];
  for (const s of sources) {
    for (const m of s.sql.matchAll(CREATE)) {
      // The body: from the opening parenthesis to its match.
      let depth = 0;
      let end = m.index + m[0].length - 1;
      for (let i = end; i < s.sql.length; i++) {
        if (s.sql[i] === '(') depth++;
        if (s.sql[i] === ')' && --depth === 0) {
          end = i;
          break;
        }
      }
      const body = s.sql.slice(m.index + m[0].length, end);
      out.push({ name: m[1]!, owner: s.owner, origin: s.origin, columns: columnsOf(body) });
    }
  }
  return out;
}
