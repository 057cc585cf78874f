import test from "ava";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { checkSamples, extractSamples, formatErrors, readDocument, SampleSyntaxError, sampleDocuments, type Sample } from "../helpers/docSamples.js";

/**
 * Every TypeScript sample in README.md, docs/, and the apps' and templates' READMEs compiles
 * as written (conventions: docs/README.md, "Code samples"). One tsc run checks them all,
 * together with a deliberately broken sample that proves a failure names the document, the
 * line and tsc's message.
 */

const ROOT = resolve(".");
const OUT = join(ROOT, "node_modules", ".cache", "berth-doc-samples");

const fence = "```";

test("extracts ts and typescript blocks with their line, and nothing else", (t) => {
  const md = [
    "# Title", // 1
    `${fence}sh`, // 2
    "npm test", // 3
    fence, // 4
    `${fence}ts`, // 5
    "const a = 1;", // 6
    fence, // 7
    "1. a list item", // 8
    `   ${fence}typescript`, // 9
    "   const b = 2;", // 10
    `   ${fence}`, // 11
    `${fence}json`, // 12
    '{"ts": true}', // 13
    fence, // 14
  ].join("\n");
  const samples = extractSamples("x.md", md);
  t.deepEqual(
    samples.map((s) => [s.line, s.code, s.indent]),
    [
      [5, "const a = 1;", 0],
      [9, "const b = 2;", 3],
    ],
  );
});

test("a longer fence holds a shorter one, and ~~~ fences work", (t) => {
  const md = ["````ts", "const s = `", "```", "`;", "````", "~~~ts", "let x = 1;", "~~~"].join("\n");
  t.deepEqual(
    extractSamples("x.md", md).map((s) => [s.line, s.code]),
    [
      [1, "const s = `\n```\n`;"],
      [6, "let x = 1;"],
    ],
  );
});

test("file= names a module; a prelude comment right before a block is prepended", (t) => {
  const md = [
    `${fence}ts file=cart.ts`, // 1
    "export const n = 1;", // 2
    fence, // 3
    "<!-- prelude:", // 4
    'import { n } from "./cart.js";', // 5
    "-->", // 6
    "", // 7
    `${fence}ts`, // 8
    "n + 1;", // 9
    fence, // 10
  ].join("\n");
  const [cart, use] = extractSamples("x.md", md);
  t.is(cart?.file, "cart.ts");
  t.is(cart?.prelude, null);
  t.is(use?.file, null);
  t.deepEqual(use?.prelude, { code: 'import { n } from "./cart.js";', line: 4 });
});

test("mistakes in the conventions are errors that name the line", (t) => {
  const cases: Array<[string, RegExp]> = [
    [`${fence}ts sample-of=Cart\n${fence}`, /x\.md:1: unknown block attribute "sample-of=Cart"/],
    [`${fence}ts file=../x.ts\n${fence}`, /x\.md:1: unknown block attribute/],
    [`${fence}ts file=a.ts\n${fence}\n${fence}ts file=a.ts\n${fence}`, /x\.md:3: file=a\.ts is already the block at line 1/],
    [`<!-- prelude: const a = 1; -->\ntext\n${fence}ts\n${fence}`, /x\.md:1: a prelude comment must come right before a ts block/],
    [`<!-- prelude: const a = 1; -->\n${fence}sh\n${fence}`, /x\.md:1: .* not a sh block/],
    ["<!-- prelude: const a = 1;", /x\.md:1: the prelude comment is never closed/],
  ];
  for (const [md, message] of cases) {
    const error = t.throws(() => extractSamples("x.md", md), { instanceOf: SampleSyntaxError }, md);
    t.regex(error?.message ?? "", message);
  }
});

test("the documents checked: README.md, docs/**, apps/*/README.md, templates/*/README.md when templates/ exists", (t) => {
  const root = mkdtempSync(join(tmpdir(), "berth-docs-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const write = (path: string): void => {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), "# x\n");
  };
  for (const p of ["README.md", "docs/a.md", "docs/guides/b.md", "docs/notes.txt", "apps/shop/README.md", "apps/shop/src/NOTES.md", "apps/empty/x.ts"]) write(p);
  t.deepEqual(sampleDocuments(root), ["README.md", "docs/a.md", "docs/guides/b.md", "apps/shop/README.md"]);
  write("templates/minimal/README.md");
  t.deepEqual(sampleDocuments(root), ["README.md", "docs/a.md", "docs/guides/b.md", "apps/shop/README.md", "templates/minimal/README.md"]);
});

/** A document with one sample that does not compile (line 6) and one in a prelude (line 9). */
const BROKEN_DOC = "(self-test)/broken.md";
const BROKEN = [
  "# Broken on purpose", // 1
  "", // 2
  `${fence}ts`, // 3
  'import { defineActor } from "berth";', // 4
  'const Counter = defineActor("counter", { state: () => ({ n: 0 }), handlers: { add: (ctx, by: number) => (ctx.state.n += by) } });', // 5
  'export const wrong: string = Counter.name.length;', // 6
  fence, // 7
  "", // 8
  "<!-- prelude: const fromPrelude: number = 'not a number'; -->", // 9
  `${fence}ts`, // 10
  "export const ok = fromPrelude;", // 11
  fence, // 12
].join("\n");

test("every TypeScript sample in the docs compiles (one tsc run)", (t) => {
  const docs = sampleDocuments(ROOT);
  t.true(docs.includes("README.md") && docs.includes("docs/guides/writing-actors.md"), `documents found: ${docs.join(", ")}`);
  const samples: Sample[] = docs.flatMap((doc) => extractSamples(doc, readDocument(ROOT, doc)));
  t.true(samples.length >= 25, `only ${samples.length} samples found`);
  const broken = extractSamples(BROKEN_DOC, BROKEN);
  const result = checkSamples(ROOT, [...samples, ...broken], OUT);
  t.is(result.other, "", "tsc printed something that is not a sample's diagnostic");
  t.is(result.modules, samples.length + broken.length);

  // The self-test: a sample that does not compile is reported with its document, line and message.
  const selfTest = result.errors.filter((e) => e.doc === BROKEN_DOC);
  t.deepEqual(
    selfTest.map((e) => [e.line, e.code]),
    [
      [6, "TS2322"],
      [9, "TS2322"],
    ],
    formatErrors(selfTest),
  );
  t.regex(formatErrors(selfTest), /^\(self-test\)\/broken\.md:6:14 TS2322 Type 'number' is not assignable to type 'string'\./);

  const real = result.errors.filter((e) => e.doc !== BROKEN_DOC);
  t.is(real.length, 0, `${real.length} doc sample error(s):\n${formatErrors(real)}`);
});
