import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

/**
 * The TypeScript code samples of the docs, extracted and type-checked as modules (the
 * conventions are in docs/README.md, "Code samples"):
 *
 * - every ```ts / ```typescript block is its own module, checked as written;
 * - ```ts file=cart.ts names the module, so other blocks of the same document can import it
 *   as "./cart.js";
 * - an HTML comment `<!-- prelude: ... -->` right before a block (blank lines allowed) is
 *   prepended to it: declarations a fragment needs but the reader does not (it is invisible
 *   on the rendered page).
 */

/** One TypeScript block of a Markdown document. */
export interface Sample {
  /** The document, relative to the repository root (`docs/guides/http.md`). */
  readonly doc: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The module name given with `file=`, or null. */
  readonly file: string | null;
  /** Code prepended from a `<!-- prelude: -->` comment, and the comment's line. */
  readonly prelude: { readonly code: string; readonly line: number } | null;
  /** The block's code, fence indentation removed. */
  readonly code: string;
  /** How far the fence is indented (inside a list item), added back to tsc's columns. */
  readonly indent: number;
}

/** A block's info string (or a prelude) that the conventions do not allow. */
export class SampleSyntaxError extends Error {
  override name = "SampleSyntaxError";
}

const TS_LANGS = new Set(["ts", "typescript"]);
const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*\.ts$/;

/** The TypeScript blocks of one Markdown document, with their conventions applied. */
export function extractSamples(doc: string, text: string): Sample[] {
  const lines = text.split(/\r?\n/);
  const samples: Sample[] = [];
  let prelude: { code: string; line: number } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const open = FENCE.exec(line);
    if (open) {
      const [, indent = "", fence = "", info = ""] = open;
      const end = findClose(lines, i + 1, fence);
      const body = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()));
      const [lang = "", ...attrs] = info.trim().split(/\s+/);
      if (TS_LANGS.has(lang.toLowerCase())) {
        samples.push({ doc, line: i + 1, file: fileAttr(doc, i + 1, attrs), prelude, code: body.join("\n"), indent: indent.length });
      } else if (prelude !== null) {
        throw new SampleSyntaxError(`${doc}:${prelude.line}: a prelude comment must come right before a ts block, not a ${lang || "plain"} block`);
      }
      prelude = null;
      i = end;
      continue;
    }
    const start = /^\s*<!--\s*prelude:/.exec(line);
    if (start) {
      const from = i;
      let comment = line.slice(start[0].length);
      while (!comment.includes("-->")) {
        i++;
        if (i >= lines.length) throw new SampleSyntaxError(`${doc}:${from + 1}: the prelude comment is never closed with -->`);
        comment += `\n${lines[i] ?? ""}`;
      }
      prelude = { code: comment.slice(0, comment.indexOf("-->")).trim(), line: from + 1 };
      continue;
    }
    if (line.trim() !== "" && prelude !== null) {
      throw new SampleSyntaxError(`${doc}:${prelude.line}: a prelude comment must come right before a ts block (only blank lines between)`);
    }
  }
  if (prelude !== null) throw new SampleSyntaxError(`${doc}:${prelude.line}: a prelude comment must come right before a ts block`);
  const named = new Map<string, number>();
  for (const s of samples) {
    if (s.file === null) continue;
    const seen = named.get(s.file);
    if (seen !== undefined) throw new SampleSyntaxError(`${doc}:${s.line}: file=${s.file} is already the block at line ${seen}; names are unique per document`);
    named.set(s.file, s.line);
  }
  return samples;
}

function findClose(lines: readonly string[], from: number, fence: string): number {
  for (let j = from; j < lines.length; j++) {
    const t = (lines[j] ?? "").trim();
    if (t.startsWith(fence[0]?.repeat(fence.length) ?? fence) && /^(`+|~+)$/.test(t)) return j;
  }
  return lines.length; // an unclosed fence runs to the end, as CommonMark says
}

function fileAttr(doc: string, line: number, attrs: readonly string[]): string | null {
  let file: string | null = null;
  for (const attr of attrs) {
    const m = /^file=(.+)$/.exec(attr);
    if (!m || !FILE_NAME.test(m[1] ?? "")) {
      throw new SampleSyntaxError(`${doc}:${line}: unknown block attribute "${attr}"; the only one is file=<name>.ts (see docs/README.md, "Code samples")`);
    }
    file = m[1] ?? null;
  }
  return file;
}

/**
 * The Markdown files whose samples are checked, relative to `root`: README.md, docs/**, and
 * the README.md of every app and template (templates/ may not exist).
 */
export function sampleDocuments(root: string): string[] {
  const out: string[] = [];
  if (existsSync(join(root, "README.md"))) out.push("README.md");
  const walk = (dir: string): void => {
    if (!existsSync(join(root, dir))) return;
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".md")) out.push(path);
    }
  };
  walk("docs");
  for (const top of ["apps", "templates"]) {
    if (!existsSync(join(root, top))) continue;
    for (const entry of readdirSync(join(root, top), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isDirectory() && existsSync(join(root, top, entry.name, "README.md"))) out.push(`${top}/${entry.name}/README.md`);
    }
  }
  return out;
}

/** A sample that does not compile: where it is in the docs and what tsc said. */
export interface SampleError {
  readonly doc: string;
  /** The line in the document (the prelude comment's line for an error in the prelude). */
  readonly line: number;
  readonly column: number;
  readonly code: string;
  readonly message: string;
}

/** The result of type-checking samples. */
export interface CheckResult {
  readonly modules: number;
  readonly errors: readonly SampleError[];
  /** tsc output that is not a diagnostic of a sample (a broken config, a crash). */
  readonly other: string;
  readonly exitCode: number | null;
}

/** Compiler options of the generated project: the repository's, without emit. */
const COMPILER_OPTIONS = {
  target: "es2023",
  lib: ["es2023"],
  module: "nodenext",
  moduleResolution: "nodenext",
  types: ["node"],
  strict: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  isolatedModules: true,
  verbatimModuleSyntax: true,
  experimentalDecorators: true,
  skipLibCheck: true,
  noEmit: true,
};

interface Module {
  readonly sample: Sample;
  readonly path: string;
  readonly preludeLines: number;
}

/**
 * Writes every sample as its own module under `outDir` (one folder per document, so
 * `file=` names are per document), and type-checks them all with one run of the repository's
 * tsc. `outDir` must be inside the repository so `berth`, `xstate`, … resolve from its
 * node_modules (`berth` links to framework/, typed by framework/dist: build first).
 */
export function checkSamples(root: string, samples: readonly Sample[], outDir: string): CheckResult {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "package.json"), `${JSON.stringify({ private: true, type: "module" })}\n`);
  const modules: Module[] = [];
  const counts = new Map<string, number>();
  for (const sample of samples) {
    const dir = join(outDir, sample.doc.replace(/\.md$/i, "").replace(/[^A-Za-z0-9_-]+/g, "_"));
    mkdirSync(dir, { recursive: true });
    const n = (counts.get(sample.doc) ?? 0) + 1;
    counts.set(sample.doc, n);
    const path = join(dir, sample.file ?? `sample-${String(n).padStart(2, "0")}-line-${sample.line}.ts`);
    const prelude = sample.prelude === null ? "" : `${sample.prelude.code}\n`;
    // `export {}` makes every sample a module (its own scope; top-level await allowed).
    writeFileSync(path, `${prelude}${sample.code}\nexport {};\n`);
    modules.push({ sample, path: resolve(path), preludeLines: prelude === "" ? 0 : prelude.split("\n").length - 1 });
  }
  const tsconfig = join(outDir, "tsconfig.json");
  writeFileSync(tsconfig, `${JSON.stringify({ compilerOptions: COMPILER_OPTIONS, files: modules.map((m) => relative(outDir, m.path)) }, null, 2)}\n`);
  const tsc = join(root, "node_modules", ".bin", "tsc");
  const run = spawnSync(tsc, ["--noEmit", "--pretty", "false", "-p", tsconfig], { cwd: root, encoding: "utf8" });
  if (run.error) throw run.error;
  const byPath = new Map(modules.map((m) => [m.path, m]));
  const errors: SampleError[] = [];
  const other: string[] = [];
  let last: { message: string } | null = null;
  for (const raw of `${run.stdout}${run.stderr}`.split(/\r?\n/)) {
    const d = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(raw);
    const m = d ? byPath.get(resolve(root, d[1] ?? "")) : undefined;
    if (d && m) {
      const genLine = Number(d[2]);
      const inPrelude = genLine <= m.preludeLines;
      const line = inPrelude ? (m.sample.prelude?.line ?? m.sample.line) : m.sample.line + genLine - m.preludeLines;
      const column = Number(d[3]) + (inPrelude ? 0 : m.sample.indent);
      const error = { doc: m.sample.doc, line, column, code: d[4] ?? "", message: inPrelude ? `(in the prelude) ${d[5] ?? ""}` : (d[5] ?? "") };
      errors.push(error);
      last = error;
    } else if (/^\s+\S/.test(raw) && last !== null) {
      last.message += `\n${raw}`; // a continuation of the previous message
    } else if (raw.trim() !== "") {
      other.push(raw);
      last = null;
    }
  }
  return { modules: modules.length, errors, other: other.join("\n"), exitCode: run.status };
}

/** `docs/x.md:12:5 TS2345 message`, one per error, for a test failure. */
export function formatErrors(errors: readonly SampleError[]): string {
  return errors.map((e) => `${e.doc}:${e.line}:${e.column} ${e.code} ${e.message}`).join("\n");
}

/** Reads a document relative to `root`. */
export function readDocument(root: string, doc: string): string {
  return readFileSync(join(root, doc), "utf8");
}
