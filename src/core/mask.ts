/**
 * Secret masking for every stream gitops writes (logs, errors, JSON, step summaries).
 * Patterned on semantic-release's hide-sensitive.js: credentials in URLs and the values
 * of environment variables whose names look secret are replaced before anything is written.
 */

const MASK = '***';

/** Name segments (split on `_`, `-`, `.`) that mark an environment variable as secret. */
const SECRET_NAME_SEGMENTS = new Set([
  'TOKEN',
  'TOKENS',
  'PASSWORD',
  'PASSWD',
  'PASS',
  'SECRET',
  'SECRETS',
  'KEY',
  'APIKEY',
  'CREDENTIAL',
  'CREDENTIALS',
  'CREDS',
  'AUTH',
  'PAT',
]);

/** Values shorter than this are not masked: masking "1" or "true" everywhere destroys logs. */
const MIN_SECRET_LENGTH = 4;

/** userinfo of a URL: scheme://user[:password]@ — see RFC 3986 §3.2.1. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@:]+(?::[^/\s@]*)?@/gi;

export function looksSecretName(name: string): boolean {
  const segments = name.toUpperCase().split(/[_\-.]+/);
  return segments.some(
    (segment) =>
      SECRET_NAME_SEGMENTS.has(segment) || segment.endsWith('TOKEN') || segment.endsWith('PASSWORD'),
  );
}

export class Masker {
  private readonly secrets = new Set<string>();
  private pattern: RegExp | undefined;

  /** Collects the values of secret-looking variables from an environment. */
  static fromEnv(env: Record<string, string | undefined>): Masker {
    const masker = new Masker();
    for (const [name, value] of Object.entries(env)) {
      if (value !== undefined && looksSecretName(name)) masker.add(value);
    }
    return masker;
  }

  /** Registers a value that must never be written anywhere. */
  add(secret: string | undefined): void {
    if (secret === undefined) return;
    const trimmed = secret.trim();
    if (trimmed.length < MIN_SECRET_LENGTH || this.secrets.has(trimmed)) return;
    this.secrets.add(trimmed);
    // URL-encoded forms leak through git and HTTP error messages too.
    const encoded = encodeURIComponent(trimmed);
    if (encoded !== trimmed) this.secrets.add(encoded);
    this.pattern = undefined;
  }

  get size(): number {
    return this.secrets.size;
  }

  mask(text: string): string {
    let result = text.replace(URL_CREDENTIALS, `$1${MASK}@`);
    if (this.secrets.size === 0) return result;
    if (!this.pattern) {
      // Longest first, so a secret containing another is replaced whole.
      const alternatives = [...this.secrets].sort((a, b) => b.length - a.length).map(escapeRegExp);
      this.pattern = new RegExp(alternatives.join('|'), 'g');
    }
    result = result.replace(this.pattern, MASK);
    return result;
  }

  /** Masks every string inside a JSON-like value (for `--json` documents). */
  maskDeep<T>(value: T): T {
    if (typeof value === 'string') return this.mask(value) as T;
    if (Array.isArray(value)) return value.map((item) => this.maskDeep(item)) as T;
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(value)) out[key] = this.maskDeep(inner);
      return out as T;
    }
    return value;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
