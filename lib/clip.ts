/** How long a clipped text may be: in characters (Unicode code points) or in UTF-8 bytes. */
export type ClipLimit = { chars: number } | { bytes: number };

const ELLIPSIS = '…';

/**
 * `text` if it is within `limit`, else its longest start that fits with `…` appended, the
 * ellipsis counted in the limit. Never splits a character (a surrogate pair stays whole).
 */
export function clip(text: string, limit: ClipLimit): string {
  const inBytes = 'bytes' in limit;
  const max = inBytes ? limit.bytes : limit.chars;
  // A UTF-16 unit is at most one character and at most 3 UTF-8 bytes.
  if (text.length <= (inBytes ? Math.floor(max / 3) : max)) return text;
  const size = inBytes ? utf8Bytes : () => 1;
  const room = max - size(ELLIPSIS.codePointAt(0)!);
  let used = 0;
  let end = 0;
  let cut = -1;
  for (const char of text) {
    const charSize = size(char.codePointAt(0)!);
    if (cut === -1 && used + charSize > room) cut = end;
    used += charSize;
    if (used > max) return `${text.slice(0, cut)}${ELLIPSIS}`;
    end += char.length;
  }
  return text;
}

/** UTF-8 bytes of a code point (a lone surrogate is written as U+FFFD, 3 bytes). */
function utf8Bytes(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}
