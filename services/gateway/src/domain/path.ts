// The public path of a request, decided once: `/api/<context>/<rest>` is split into decoded
// segments, every ambiguous spelling is refused, and the path forwarded to the service is rebuilt
// from exactly the segments that were authorised (never the raw text). Pure.

/** A path the gateway may route: the context and the decoded segments after it. */
export interface PublicPath {
  readonly context: string;
  /** Decoded segments after `/api/<context>` (at least one). */
  readonly segments: readonly string[];
  /** The path the service gets: `/` + each segment percent-encoded canonically. */
  readonly upstreamPath: string;
  /** The raw query string (without `?`), forwarded as is; '' when none. */
  readonly query: string;
}

export type PathDecision =
  | { readonly ok: true; readonly path: PublicPath }
  /** `ambiguous`: a spelling refused (400); `not_api`: not under /api/<context>/ (404). */
  | { readonly ok: false; readonly kind: 'ambiguous' | 'not_api'; readonly reason: string };

/** The longest request target accepted (characters). */
export const MAX_TARGET_LENGTH = 2048;
/** Characters allowed as they are in a path (RFC 3986 pchar without `;`, plus `/`). */
const RAW_PATH = /^[A-Za-z0-9\-._~!$&'()*+,=:@%/]*$/;
/** Percent-encodings of unreserved characters (ALPHA, DIGIT, - . _ ~): a second spelling of a plain character. */
const ENCODED_UNRESERVED = /%(?:4[1-9A-Fa-f]|5[0-9Aa]|6[1-9A-Fa-f]|7[0-9Aa]|3[0-9]|2[Dd]|2[Ee]|5[Ff]|7[Ee])/;
const CONTEXT = /^[a-z][a-z0-9-]{0,39}$/;

function ambiguous(reason: string): PathDecision {
  return { ok: false, kind: 'ambiguous', reason };
}

/** Decodes one segment's percent-encoding as UTF-8; undefined when it is not valid. */
function decodeSegment(raw: string): string | undefined {
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    // Not valid UTF-8 once decoded (e.g. %ED%A0%80, %FF): the caller refuses the path.
    return undefined;
  }
}

/** Characters a decoded segment may not contain: separators, escapes and controls. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const FORBIDDEN_DECODED = /[/\\;%?#\u0000-\u001f\u007f\uFFFD]/;

/**
 * Splits and checks a request target. Refused as ambiguous (400): a backslash, `;`, a control or
 * non-ASCII byte, an empty segment (`//`, a trailing `/`), `.`/`..` segments (raw or encoded), a
 * percent-encoded `/`, `\`, `;`, `%` (double encoding), NUL or any control character, an encoded
 * plain character (`%61`), invalid percent-encoding or UTF-8. Anything not starting with `/api/<context>/`
 * (case-sensitive: `/API` is not it) is `not_api` (404).
 */
export function parsePublicPath(target: string): PathDecision {
  if (target.length > MAX_TARGET_LENGTH) return ambiguous(`the request target is longer than ${MAX_TARGET_LENGTH} characters`);
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q + 1);
  if (!rawPath.startsWith('/')) return ambiguous('the path must start with /');
  if (!RAW_PATH.test(rawPath))
    return ambiguous('the path contains a character that must be percent-encoded or is refused (\\, ;, space, control, non-ASCII)');
  if (query.includes('#')) return ambiguous('a request target has no fragment');
  const rawSegments = rawPath.slice(1).split('/');
  const decoded: string[] = [];
  for (const raw of rawSegments) {
    if (raw === '') return ambiguous('empty path segment (// or a trailing /)');
    if (ENCODED_UNRESERVED.test(raw)) return ambiguous('a plain character is percent-encoded (e.g. %61 for a): send it as it is');
    const seg = decodeSegment(raw);
    if (seg === undefined) return ambiguous('invalid percent-encoding or UTF-8 in the path');
    if (FORBIDDEN_DECODED.test(seg))
      return ambiguous('a path segment contains an encoded separator, escape or control character (%2F, %5C, %3B, %25, %00…)');
    if (seg === '.' || seg === '..') return ambiguous('dot segments (. and ..) are refused');
    decoded.push(seg);
  }
  const [api, context, ...segments] = decoded;
  if (api !== 'api' || context === undefined || !CONTEXT.test(context) || segments.length === 0)
    return { ok: false, kind: 'not_api', reason: 'not a path under /api/<context>/' };
  return {
    ok: true,
    path: { context, segments, upstreamPath: `/${segments.map(encodeURIComponent).join('/')}`, query },
  };
}
