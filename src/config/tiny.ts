/**
 * A clone of Config::Tiny 2.28 `read_string`, the INI reader MHA uses.
 * Same line splitting, same regular expressions (with Perl's ASCII \s on a
 * byte string), same "last one wins" for repeated keys and sections.
 * The only additions: every entry remembers its line, and we collect every
 * syntax error instead of stopping at the first one. Pure: text in, data out.
 */

export interface TinyEntry {
  value: string;
  line: number;
}

export interface TinySection {
  name: string;
  /** Line of the (first) header; 0 for the root section "_". */
  line: number;
  entries: Map<string, TinyEntry>;
}

export interface TinySyntaxError {
  line: number;
  text: string;
}

export interface TinyDoc {
  /** In first-seen order. Properties before any [section] go to "_", as in Config::Tiny. */
  sections: Map<string, TinySection>;
  errors: TinySyntaxError[];
}

/** Perl's \s on a non-UTF-8 string: ASCII whitespace only (incl. VT since 5.18). */
const S = '[\\t\\n\\x0B\\f\\r ]';
const SKIP_RE = new RegExp(`^${S}*(?:#|;|$)`);
const INLINE_COMMENT_RE = new RegExp(`${S};${S}[^\\n]+$`);
const SECTION_RE = new RegExp(`^${S}*\\[${S}*([^\\n]+?)${S}*\\]${S}*$`);
const PROPERTY_RE = new RegExp(`^${S}*([^=]+?)${S}*=${S}*([^\\n]*?)${S}*$`);

/** The same line split as Config::Tiny: CRLF, CRCRLF, CR or LF. */
export function splitLines(text: string): string[] {
  return text.split(/\r{1,2}\n|\r|\n/);
}

export function parseTiny(text: string): TinyDoc {
  const sections = new Map<string, TinySection>();
  const errors: TinySyntaxError[] = [];
  let ns = '_';
  let counter = 0;
  for (const raw of splitLines(text)) {
    counter++;
    if (SKIP_RE.test(raw)) continue;
    const line = raw.replace(INLINE_COMMENT_RE, '');
    const sec = SECTION_RE.exec(line);
    if (sec) {
      ns = sec[1] ?? '';
      if (!sections.has(ns)) sections.set(ns, { name: ns, line: counter, entries: new Map() });
      continue;
    }
    const prop = PROPERTY_RE.exec(line);
    if (prop) {
      let s = sections.get(ns);
      if (!s) {
        s = { name: ns, line: ns === '_' ? 0 : counter, entries: new Map() };
        sections.set(ns, s);
      }
      s.entries.set(prop[1] ?? '', { value: prop[2] ?? '', line: counter });
      continue;
    }
    errors.push({ line: counter, text: line });
  }
  return { sections, errors };
}

/** Plain section -> key -> value, as Config::Tiny's hash (for golden tests). */
export function tinyToPlain(doc: TinyDoc): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [name, s] of doc.sections) {
    const o: Record<string, string> = {};
    for (const [k, e] of s.entries) o[k] = e.value;
    out[name] = o;
  }
  return out;
}
