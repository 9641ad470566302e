// Checks deploy/Dockerfile without building it (building needs a registry
// for the base images, which this machine cannot reach).
//
//   node dockerfile.mjs DOCKERFILE [PACKAGE...]
//
// - dockerfile-utils (the linter of VS Code's Docker extension) finds no
//   problem: unknown instructions, bad arguments, bad flags;
// - each COPY --from names an earlier stage;
// - the build stage starts from debian:12 and runs the project's
//   scripts/setup-deps; the final stage starts from debian:12-slim and runs
//   as a user that is not root;
// - the final stage's apt-get install names every PACKAGE: the Debian
//   packages of the libraries the built binary links (configs_test.sh finds
//   them with readelf and dpkg), so that the image cannot miss one.
//
// Prints one line per check; exits 1 when any fails.
import { readFileSync } from "node:fs";
import { validate } from "dockerfile-utils";

const [file, ...needed] = process.argv.slice(2);
const text = readFileSync(file, "utf8");
let failed = 0;
const ok = (cond, what) => {
  console.log(`${cond ? "ok:  " : "FAIL:"} ${what}`);
  if (!cond) failed++;
};

const problems = validate(text);
ok(problems.length === 0, `dockerfile-utils: ${problems.length} problem(s)` +
   problems.map((p) => `\n      line ${p.range.start.line + 1}: ${p.message}`).join(""));

// Instructions with their continuation lines joined, comments dropped.
const instructions = text
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith("#"))
  .map((line) => {
    const [, keyword, rest] = /^(\S+)\s*(.*)$/.exec(line);
    return { keyword: keyword.toUpperCase(), args: rest };
  });

const stages = [];
for (const { keyword, args } of instructions) {
  if (keyword === "FROM") {
    const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args);
    stages.push({ image, name, instructions: [] });
  } else if (stages.length) {
    stages.at(-1).instructions.push({ keyword, args });
  }
}
ok(stages.length >= 2, `${stages.length} stages (multi-stage: build, then run)`);
const build = stages[0];
const final = stages.at(-1);
const runs = (stage) => stage.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args).join("\n");

stages.forEach((stage, index) => {
  for (const { keyword, args } of stage.instructions) {
    const from = keyword === "COPY" && /--from=(\S+)/.exec(args)?.[1];
    if (from) {
      ok(stages.slice(0, index).some((s) => s.name === from), `COPY --from=${from} names an earlier stage`);
    }
  }
});
ok(build.image === "debian:12" && /scripts\/setup-deps/.test(runs(build)),
   `the build stage starts from debian:12 (${build.image}) and runs scripts/setup-deps`);
ok(final.image === "debian:12-slim", `the final stage starts from debian:12-slim (${final.image})`);
const user = final.instructions.filter((i) => i.keyword === "USER").at(-1)?.args.split(":")[0];
ok(user !== undefined && user !== "root" && user !== "0", `the final stage runs as user ${user}, not root`);
const installed = new Set(
  [...runs(final).matchAll(/apt-get install([^&;|]*)/g)].flatMap((m) => m[1].split(/\s+/)).filter((w) => w && !w.startsWith("-")));
const missing = needed.filter((p) => !installed.has(p));
ok(needed.length > 0 && missing.length === 0,
   `the final stage installs the ${needed.length} package(s) the binary links` +
   (missing.length ? `; missing: ${missing.join(" ")}` : ""));

console.log(failed ? `${failed} check(s) failed` : "Dockerfile: all checks passed");
process.exit(failed ? 1 : 0);
