/*
 * What a render may read, checked before helm, kustomize or the plain reader run: every file of
 * the render inputs (the revision closure, manifests/inputs.ts) lies inside the env-repo checkout
 * once symlinks are resolved, and passes the same input guard as the edit path (UTF-8, no control
 * characters, valid YAML without alias bombs or absurd nesting, per-file and total size budgets).
 * An env-repo author is not trusted with the CI runner: a chart holding `files/env ->
 * /proc/self/environ`, read with `.Files.Get`, would otherwise put the runner's environment into
 * the cluster and into `gitops diff`.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { usageError } from '../core/errors.js';
import { decodeText, documentProblem, type InputProblem, ReadBudget } from '../core/input-guards.js';
import { isWithin } from '../core/repository.js';
import { LineCounter, parseAllDocuments } from '../core/yaml.js';
import type { RepoFiles } from '../manifests/inputs.js';
import { isKustomizationFile } from '../manifests/kustomize-files.js';
import { readAgreeingDocuments, type YamlDocuments } from './parse.js';

const YAML_FILE = /\.ya?ml$/;

/** A file of the render inputs, repo-relative, with its size. */
interface InputFile {
  path: string;
  size: number;
}

export interface InputCheckOptions {
  layout: 'kustomize' | 'helm' | 'plain';
  /** Repo-relative files and directories the render reads (RenderInputs.paths). */
  paths: readonly string[];
  /**
   * Directories whose every file the renderer may read although the closure does not name each
   * one (a kustomization's directory: kustomize loads any file below it): checked for symlinks only.
   */
  roots?: readonly string[];
  /** Repo-relative files the plain reader skips (Helm values files of a plain layout). */
  skip?: ReadonlySet<string>;
}

function symlinkError(link: string, target: string) {
  return usageError(
    'MANIFEST_SYMLINK',
    `a symlink to ${target}, outside the env repo; gitops does not read or render through it`,
    {
      location: { file: link },
      hint: 'replace the link with the file itself, or point it at a file inside the env repo',
    },
  );
}

/**
 * Throws when `path` (repo-relative), or a directory on the way to it, is a symlink leading out
 * of `root`; returns the real path, or undefined when nothing is there (a dangling link inside).
 */
function confined(root: string, realRoot: string, path: string): string | undefined {
  const full = join(root, path);
  let real: string | undefined;
  try {
    real = realpathSync(full);
  } catch {
    real = undefined;
  }
  if (real !== undefined && isWithin(realRoot, real)) return real;
  // Outside, or dangling: name the first link on the way that leads out (or nowhere inside).
  const parts = path.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    const at = join(root, prefix);
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(at);
    } catch {
      return undefined;
    }
    if (!stat.isSymbolicLink()) continue;
    const target = readlinkSync(at);
    let leadsTo: string;
    try {
      leadsTo = realpathSync(at);
    } catch {
      leadsTo = resolve(dirname(at), target);
    }
    if (!isWithin(realRoot, leadsTo)) throw symlinkError(prefix, target);
  }
  return undefined;
}

/**
 * Every file below the given repo-relative paths, symlinks resolved and confined to `root`
 * (directories reached through an in-repo link are walked once). `.git` is not walked.
 */
function collect(root: string, realRoot: string, paths: readonly string[]): InputFile[] {
  const files: InputFile[] = [];
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();
  const stack = [...paths].reverse();
  while (stack.length > 0) {
    const path = stack.pop()!;
    const real = confined(root, realRoot, path);
    if (real === undefined) continue;
    const stat = statSync(real);
    if (stat.isDirectory()) {
      const full = join(root, path);
      if (path !== '.' && lstatSync(full).isSymbolicLink()) {
        // A link to a directory above itself: the plain reader and Helm would walk it forever.
        const parent = realpathSync(dirname(full));
        if (isWithin(real, parent)) {
          throw usageError(
            'MANIFEST_SYMLINK',
            `a symlink to ${readlinkSync(full)}, a directory that holds the link itself: reading it would never end`,
            { location: { file: path }, hint: 'remove the link, or point it at a directory beside it' },
          );
        }
      }
      if (seenDirs.has(real)) continue;
      seenDirs.add(real);
      const names = readdirSync(real)
        .filter((name) => name !== '.git')
        .sort()
        .reverse();
      for (const name of names) stack.push(path === '.' ? name : `${path}/${name}`);
    } else if (stat.isFile() && !seenFiles.has(real)) {
      seenFiles.add(real);
      files.push({ path, size: stat.size });
    }
  }
  return files;
}

/** Whether the renderer reads the file as YAML as it is (not as a template, not as data). */
function readAsYaml(layout: InputCheckOptions['layout'], path: string): boolean {
  if (!YAML_FILE.test(path)) return false;
  // Helm templates are YAML only once rendered: their output is checked after the render.
  return !(layout !== 'plain' && path.split('/').includes('templates'));
}

function refusal(
  code: 'MANIFEST_TOO_LARGE' | 'MANIFEST_ENCODING' | 'MANIFEST_YAML',
  file: string,
  problem: InputProblem,
) {
  return usageError(code, problem.reason, {
    location: {
      file,
      ...(problem.line ? { line: problem.line } : {}),
      ...(problem.line && problem.column ? { column: problem.column } : {}),
    },
    hint:
      code === 'MANIFEST_TOO_LARGE'
        ? 'keep large data out of the env repo (a ConfigMap of megabytes belongs in an image or a volume)'
        : 'fix the file at that line; gitops refuses the same input when it edits',
  });
}

/** What checkRenderInputs read on the way: the documents of YAML files that js-yaml read. */
export interface CheckedInputs {
  /**
   * By repo-relative path, the documents of the YAML files read as they are, when js-yaml read
   * them as the document model would (readAgreeingDocuments): the plain reader takes its objects
   * from them instead of parsing each file a second time. Others are not here.
   */
  yaml: ReadonlyMap<string, YamlDocuments>;
}

/**
 * Refuses (exit 2, nothing rendered, so nothing committed or applied) render inputs that leave the
 * env repo through a symlink, or that the input guard refuses: sizes first (from the directory
 * entries, before any byte is read), then each YAML file's text and documents.
 */
export function checkRenderInputs(root: string, options: InputCheckOptions): CheckedInputs {
  const realRoot = realpathSync(root);
  collect(root, realRoot, options.roots ?? []);
  const files = collect(root, realRoot, options.paths);
  const read = files.filter(
    (file) =>
      !options.skip?.has(file.path) &&
      (options.layout !== 'plain' ||
        (YAML_FILE.test(file.path) && !isKustomizationFile(posix.basename(file.path)))),
  );
  const budget = new ReadBudget();
  for (const file of read) {
    const problem = budget.take(file.size);
    if (problem) throw refusal('MANIFEST_TOO_LARGE', file.path, problem);
  }
  const yaml = new Map<string, YamlDocuments>();
  for (const file of read) {
    if (!YAML_FILE.test(file.path)) continue;
    const decoded = decodeText(readFileSync(join(root, file.path)));
    if ('problem' in decoded) throw refusal('MANIFEST_ENCODING', file.path, decoded.problem);
    if (!readAsYaml(options.layout, file.path)) continue;
    // What js-yaml reads as the document model does, the document model refuses nothing of (and
    // js-yaml reads a thousand manifests several times faster than the document model, cold).
    const documents = readAgreeingDocuments(decoded.text);
    if (documents) {
      yaml.set(file.path, documents);
      continue;
    }
    const problem = textProblem(decoded.text);
    if (problem) throw refusal('MANIFEST_YAML', file.path, problem);
  }
  return { yaml };
}

/** The first problem of a YAML text's documents (see documentProblem), or undefined. */
export function textProblem(text: string): InputProblem | undefined {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
  const source = { text, offset: 0, lineOf: (offset: number) => lines.linePos(offset).line };
  for (const document of Array.isArray(documents) ? documents : [documents]) {
    const problem = documentProblem(document, source);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * The working tree under `root` as RepoFiles for computing the render inputs, where a path that
 * leads out of the repo through a symlink is refused instead of read (the closure walk reads
 * kustomizations and Chart.yaml files before anything else is checked).
 */
export function confinedTreeFiles(root: string): RepoFiles {
  const realRoot = realpathSync(root);
  const kind = (path: string): 'file' | 'dir' | undefined => {
    const real = confined(root, realRoot, path);
    if (real === undefined) return undefined;
    const stat = statSync(real);
    return stat.isDirectory() ? 'dir' : stat.isFile() ? 'file' : undefined;
  };
  return {
    async kind(path) {
      return kind(path);
    },
    async read(path) {
      if (kind(path) !== 'file') return undefined;
      const decoded = decodeText(readFileSync(join(root, path)));
      if ('problem' in decoded) throw refusal('MANIFEST_ENCODING', path, decoded.problem);
      return decoded.text;
    },
  };
}
