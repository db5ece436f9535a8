// Checks of generated documents with the real tools, offline: Mermaid's own parser (mermaid 12 in
// Node, with a linkedom window for the DOMPurify it sanitises flowchart labels with), the AsyncAPI
// parser (relative `$ref`s resolved from the file), and the Markdown's links and anchors.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Parser, fromFile } from '@asyncapi/parser';
import { parseHTML } from 'linkedom';

interface MermaidApi {
  parse(text: string): Promise<{ diagramType: string } | false>;
}
let mermaid: Promise<MermaidApi> | undefined;

async function loadMermaid(): Promise<MermaidApi> {
  // Mermaid's flowchart parser sanitises labels with DOMPurify, which needs a window; a sequence
  // diagram needs none. The window is installed once, before mermaid is loaded.
  const g = globalThis as { window?: unknown; document?: unknown };
  if (g.window === undefined) {
    // linkedom's declarations do not resolve under this project's settings: its shape, as used here.
    const { window } = (parseHTML as unknown as (html: string) => { window: { document: unknown } })(
      '<!doctype html><html><head></head><body></body></html>',
    );
    g.window = window;
    g.document = window.document;
  }
  const mod = (await import('mermaid')) as unknown as { default: MermaidApi };
  return mod.default;
}

/** Parses a Mermaid diagram with Mermaid itself; resolves with its type, rejects with the parse error. */
export async function parseMermaid(text: string): Promise<string> {
  mermaid ??= loadMermaid();
  const result = await (await mermaid).parse(text);
  if (result === false) throw new Error('mermaid refused the diagram');
  return result.diagramType;
}

/** The ```mermaid blocks of a Markdown text. */
export function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1]!.trimEnd());
}

export interface AsyncApiDiagnostic {
  readonly severity: number;
  readonly code: string | number;
  readonly message: string;
  readonly path: readonly (string | number)[];
}

/** Parses an AsyncAPI file (its relative `$ref`s resolved from its folder); severity 0 = error. */
export async function parseAsyncApiFile(
  path: string,
): Promise<{ errors: AsyncApiDiagnostic[]; all: AsyncApiDiagnostic[]; document: unknown }> {
  const { document, diagnostics } = await fromFile(new Parser(), path).parse();
  const all = diagnostics.map((d) => ({ severity: Number(d.severity), code: d.code, message: d.message, path: d.path }));
  return { errors: all.filter((d) => d.severity === 0), all, document };
}

/** Relative links and image sources of a Markdown text (no scheme, no pure `#anchor`). */
export function relativeLinks(markdown: string): string[] {
  const withoutCode = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  return [...withoutCode.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/i.test(l) && !l.startsWith('#'));
}

/** Links of `markdown` (a file in `dir`) whose file does not exist. */
export function brokenLinks(markdown: string, dir: string): string[] {
  return relativeLinks(markdown).filter((l) => !existsSync(join(dir, decodeURIComponent(l.split('#')[0]!))));
}

/** `#anchor` links with no `id="anchor"` and no heading of that slug. */
export function brokenAnchors(markdown: string): string[] {
  const ids = new Set([...markdown.matchAll(/id="([^"]+)"/g)].map((m) => m[1]!));
  for (const m of markdown.matchAll(/^#{1,6} (.+)$/gm))
    ids.add(
      m[1]!
        .toLowerCase()
        .replace(/[^a-z0-9 _-]/g, '')
        .replace(/ /g, '-'),
    );
  const withoutCode = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  return [...withoutCode.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!).filter((a) => !ids.has(a));
}
