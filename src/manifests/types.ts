import type { ImageReference } from '../images/reference.js';

/** One image to set: what the user called it and the reference to write. */
export interface ImageUpdate {
  /** A config image name or a repository, as given; marker comments may name either. */
  name: string;
  /** The new reference; it has a tag, a digest or both. */
  reference: ImageReference;
  /**
   * Other images of the config with the same repository. A value of that repository then belongs
   * to whichever image its `# gitops:image <name>` marker names; an unmarked one is ambiguous.
   */
  sharedWith?: string[];
}

/** A value that was (or, with `write: false`, would be) rewritten. */
export interface ImageChange {
  /** Relative to the environment directory, with `/` separators. */
  file: string;
  line: number;
  /** The update's name. */
  image: string;
  /** The image as rendered before (for an added kustomize entry: the image it overrides). */
  old: string;
  /** The image as rendered after. */
  new: string;
  /** The change adds a kustomize `images:` entry rather than rewriting a value. */
  entryAdded?: boolean;
}

/** A reference to an updated image that was seen and left alone, with why. */
export interface SeenReference {
  file: string;
  line: number;
  image: string;
  value: string;
  reason: string;
}

/** A file the edit refused to touch; with any refusal nothing is written at all. */
export interface Refusal {
  file: string;
  line?: number;
  reason: string;
}

/** Before and after text of a changed file, for a diff under --dry-run. */
export interface FileEdit {
  file: string;
  before: string;
  after: string;
}

export interface UpdateResult {
  changes: ImageChange[];
  seen: SeenReference[];
  files: FileEdit[];
  refused: Refusal[];
  /** Update names for which no image field (nor marked value) was found; `seen` says where they were seen. */
  notFound: string[];
  /**
   * Updates whose image the render shows in places gitops cannot change (with those places and why):
   * a refusal of its own, distinct from "already up to date". Nothing is written when any is listed.
   */
  notEditable: Array<{ image: string; places: SeenReference[] }>;
  /** Whether any file was (or would be) changed; false when something was refused or not editable. */
  changed: boolean;
}

export interface UpdateOptions {
  /** Helm values files, relative to the environment directory (the environment's `helmValues`). */
  helmValues: string[];
  /**
   * The environment's chart, relative to the environment directory (`environments.<name>.chart`):
   * the environment renders through `helm template`, so only its values files are rendered, and the
   * chart's own values.yaml (defaults, never edited) is merged under them.
   */
  chart?: string;
  /** false: plan and verify only, write nothing. */
  write: boolean;
  /**
   * The env repo's root: symlinks (and the environment directory) may not resolve outside it.
   * Default: the nearest directory above the environment holding `.git`, else the environment.
   */
  root?: string;
}
