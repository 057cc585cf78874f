import test from "ava";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { ConfigError } from "berth";
import { askTemplate, defaultBerthSpec, packageNameProblem } from "../../framework/src/cli/newCommand.js";
import { bundleTemplates, copyTemplate, listTemplates, templatesDir } from "../../framework/src/cli/templates.js";

/** `berth new`'s parts: the prompt, where templates are found, what is copied, package names. */

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-new-unit-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Answers the prompt line by line, each answer once the question is shown. */
async function ask(answers: string[]): Promise<{ chosen: string | Error; shown: string }> {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = "";
  output.on("data", (chunk: Buffer) => {
    shown += chunk.toString();
    if (chunk.toString().includes("template [")) {
      const next = answers.shift();
      if (next !== undefined) input.write(`${next}\n`);
    }
  });
  const chosen = await askTemplate(listTemplates(), "session-cart", { input, output }).catch((e: Error) => e);
  return { chosen, shown };
}

test("the prompt lists the templates with their descriptions and takes a number, a name or Enter", async (t) => {
  const first = await ask(["1"]);
  t.is(first.chosen, "minimal");
  t.regex(first.shown, /1\) minimal +one counter actor and a script that calls it\n/);
  t.regex(first.shown, /2\) session-cart +HTTP session actors .*\(default\)\n/);
  t.regex(first.shown, /3\) statechart +a checkout wizard/);
  t.is((await ask(["statechart"])).chosen, "statechart");
  t.is((await ask([""])).chosen, "session-cart", "Enter takes the default");
  const retried = await ask(["9", "nope", "2"]);
  t.is(retried.chosen, "session-cart");
  t.regex(retried.shown, /no template "9"; answer 1 to 3 or a name/);
  const gaveUp = await ask(["x", "y", "z"]);
  t.true(gaveUp.chosen instanceof ConfigError);
  t.regex((gaveUp.chosen as Error).message, /pass --template <name>/);
});

test("templates are found beside the framework in a checkout, inside the package when installed", (t) => {
  const root = tempDir(t);
  const template = (dir: string): void => {
    mkdirSync(join(dir, "minimal"), { recursive: true });
    writeFileSync(join(dir, "minimal", "package.json"), JSON.stringify({ description: "d" }));
  };
  // A source checkout: <repo>/framework and <repo>/templates.
  mkdirSync(join(root, "repo", "framework"), { recursive: true });
  writeFileSync(join(root, "repo", "framework", "package.json"), JSON.stringify({ version: "0.1.0" }));
  template(join(root, "repo", "templates"));
  t.is(templatesDir(join(root, "repo", "framework")), join(root, "repo", "templates"));
  t.is(defaultBerthSpec(join(root, "repo", "framework")), `file:${join(root, "repo", "framework")}`);
  // Installed from npm: node_modules/berth/templates (copied by prepack), never a neighbour's templates/.
  const pkg = join(root, "app", "node_modules", "berth");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ version: "1.2.3" }));
  template(join(root, "app", "node_modules", "templates"));
  t.throws(() => templatesDir(pkg), { instanceOf: ConfigError, message: /no templates found \(looked in .*node_modules\/berth\/templates\)/ });
  template(join(pkg, "templates"));
  t.is(templatesDir(pkg), join(pkg, "templates"));
  t.is(defaultBerthSpec(pkg), "^1.2.3");
});

test("the packed copy keeps stored names; a scaffold restores them and skips build output", (t) => {
  const root = tempDir(t);
  const from = join(root, "templates");
  mkdirSync(join(from, "demo", "src"), { recursive: true });
  mkdirSync(join(from, "demo", "node_modules", "x"), { recursive: true });
  mkdirSync(join(from, "demo", "dist"), { recursive: true });
  writeFileSync(join(from, "demo", "package.json"), "{}");
  writeFileSync(join(from, "demo", "_gitignore"), "node_modules/\n");
  writeFileSync(join(from, "demo", "src", "app.ts"), "export {};\n");
  writeFileSync(join(from, "demo", "node_modules", "x", "index.js"), "");
  writeFileSync(join(from, "demo", "dist", "app.js"), "");
  writeFileSync(join(from, "README.md"), "# templates\n");

  const packed = join(root, "framework", "templates");
  t.deepEqual(bundleTemplates(from, packed), ["demo"]);
  t.deepEqual(readdirSync(join(packed, "demo")).sort(), ["_gitignore", "package.json", "src"]);
  t.true(existsSync(join(packed, "README.md")));

  const app = join(root, "app");
  t.deepEqual(copyTemplate(join(packed, "demo"), app), [".gitignore", "package.json", "src/app.ts"]);
});

test("package names follow npm's rules", (t) => {
  for (const ok of ["my-app", "app2", "a.b_c~d", "@acme/shop", "x".repeat(214)]) t.is(packageNameProblem(ok), null, ok);
  for (const bad of ["", "My-App", "my app", ".app", "_app", "@acme/_x", "a/b", "@acme", "node_modules", "x".repeat(215), "app!", " app"]) {
    t.is(typeof packageNameProblem(bad), "string", JSON.stringify(bad));
  }
});
