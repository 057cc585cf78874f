import test, { type ExecutionContext } from "ava";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/**
 * `berth new` as a user runs it: the real CLI (framework/bin/berth.js) scaffolds each template
 * into a fresh folder, then `npm install`, `npm run build` and `npm test` run there against
 * this repository's framework (the generated package.json depends on it by path). Also the
 * CLI's refusals, and what it writes into package.json.
 */
const BIN = resolve("framework/bin/berth.js");
const FRAMEWORK = resolve("framework");
const TEMPLATES = ["minimal", "session-cart", "statechart"] as const;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment of a user's shell: nothing this test run's npm or ava set for themselves. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|TSX_|NODE_OPTIONS$|INIT_CWD$)/i.test(k)) env[k] = v;
  return env;
}

function run(cmd: string, args: readonly string[], cwd: string, timeoutMs = 120_000): Promise<Run> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, env: userEnv(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      done({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function berth(args: readonly string[], cwd: string): Promise<Run> {
  return run(process.execPath, [BIN, ...args], cwd);
}

/** A fresh folder, removed when the test ends. */
function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-new-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function readPkg(dir: string): { name: string; dependencies: Record<string, string> } {
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name: string; dependencies: Record<string, string> };
}

test("refuses a folder that is not empty unless --force", async (t) => {
  const cwd = tempDir(t);
  mkdirSync(join(cwd, "app"));
  writeFileSync(join(cwd, "app", "notes.txt"), "mine");
  const refused = await berth(["new", "app", "--template", "minimal"], cwd);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /app is not empty; .*--force/);
  t.false(existsSync(join(cwd, "app", "package.json")), "nothing was written");
  const forced = await berth(["new", "app", "--template", "minimal", "--force"], cwd);
  t.is(forced.code, 0, forced.stderr);
  t.is(readFileSync(join(cwd, "app", "notes.txt"), "utf8"), "mine", "other files are left alone");
  t.true(existsSync(join(cwd, "app", "src", "counter.ts")));
});

test("an unknown template is refused, listing the known ones", async (t) => {
  const cwd = tempDir(t);
  const r = await berth(["new", "app", "--template", "nope"], cwd);
  t.is(r.code, 1);
  t.regex(r.stderr, /unknown template "nope"; the templates are: minimal, session-cart, statechart/);
  t.false(existsSync(join(cwd, "app")));
});

test("without --template and without a terminal it asks for --template or --yes; --yes takes session-cart", async (t) => {
  const cwd = tempDir(t);
  const r = await berth(["new", "app"], cwd);
  t.is(r.code, 1);
  t.regex(r.stderr, /no template chosen and no terminal to ask on: pass --template <name> \(minimal, session-cart, statechart\), or --yes/);
  t.false(existsSync(join(cwd, "app")));
  const yes = await berth(["new", "app", "--yes"], cwd);
  t.is(yes.code, 0, yes.stderr);
  t.regex(yes.stdout, /from the session-cart template/);
  t.true(existsSync(join(cwd, "app", "src", "http.ts")));
});

test("package.json gets the package name and the berth dependency; .gitignore is restored", async (t) => {
  const cwd = tempDir(t);
  const r = await berth(["new", "shop", "--template", "statechart"], cwd);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(
    { name: readPkg(join(cwd, "shop")).name, berth: readPkg(join(cwd, "shop")).dependencies.berth },
    { name: "shop", berth: `file:${FRAMEWORK}` },
    "from a source checkout the app depends on this framework by path",
  );
  t.is(readPkg(join(cwd, "shop")).dependencies.xstate, readPkg("templates/statechart").dependencies.xstate, "the template's other dependencies are kept");
  t.true(existsSync(join(cwd, "shop", "README.md")));
  t.true(existsSync(join(cwd, "shop", ".gitignore")));
  t.false(existsSync(join(cwd, "shop", "_gitignore")));
  t.regex(r.stdout, /next:\n {2}cd shop && npm install && npm start\n {2}npm test\n$/);

  const named = await berth(["new", "other", "--template", "minimal", "--name", "@acme/counter", "--berth", "^0.1.0"], cwd);
  t.is(named.code, 0, named.stderr);
  t.deepEqual(readPkg(join(cwd, "other")).name, "@acme/counter");
  t.deepEqual(readPkg(join(cwd, "other")).dependencies.berth, "^0.1.0");

  const badName = await berth(["new", "My App", "--template", "minimal"], cwd);
  t.is(badName.code, 1);
  t.regex(badName.stderr, /"My App" is not a valid npm package name .*--name <pkg>, e\.g\. --name my-app/);
  const badFlag = await berth(["new", "x", "--template", "minimal", "--name", "_private"], cwd);
  t.is(badFlag.code, 1);
  t.regex(badFlag.stderr, /--name "_private" is not a valid npm package name/);
});

test("every template scaffolds, installs, builds and passes its own tests", async (t) => {
  t.timeout(15 * 60_000);
  const cwd = tempDir(t);
  const started = Date.now();
  // Concurrently: the installs mostly wait on the registry and npm's shared cache.
  const results = await Promise.all(
    TEMPLATES.map(async (template) => {
      const created = await berth(["new", template, "--template", template], cwd);
      if (created.code !== 0) return { template, step: "berth new", r: created };
      const dir = join(cwd, template);
      for (const [step, args] of [
        ["npm install", ["install", "--no-audit", "--no-fund", "--prefer-offline"]],
        ["npm run build", ["run", "build"]],
        ["npm test", ["test"]],
      ] as const) {
        const r = await run("npm", args, dir, 10 * 60_000);
        if (r.code !== 0 || step === "npm test") return { template, step, r };
      }
      throw new Error("unreachable");
    }),
  );
  t.log(`3 templates scaffolded, installed, built and tested in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const { template, step, r } of results) {
    t.is(r.code, 0, `${template}: ${step} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    if (step !== "npm test") continue;
    const passed = /(\d+) tests? passed/.exec(r.stdout);
    t.truthy(passed, `${template}: ava reported no passing tests:\n${r.stdout.slice(-2000)}`);
    t.true(Number(passed?.[1]) >= 4, `${template}: ${passed?.[1]} tests passed`);
    t.notRegex(r.stdout, /\d+ (tests? (failed|skipped|todo)|known failures?|uncaught exceptions?|unhandled rejections?)/, `${template}: every test ran and passed`);
    t.true(existsSync(join(cwd, template, "dist", "app.js")), `${template}: npm run build wrote dist/app.js, which berth dev loads`);
  }
});
