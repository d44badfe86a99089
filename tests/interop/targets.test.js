// `fallbench run` aimed at a server it was not built for (docs/targets.md): the Node peer's custom
// dialect (namespace /custom, other events and payloads, joins not acked, deliveries that keep only
// {user, text}) behind a header, a cookie, an auth token and a stickiness cookie, through the event
// mapping and target settings of bench/scenarios/target-example.json.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = process.env.FALLBENCH_BIN;
const SCENARIO = "bench/scenarios/target-example.json";

function run(extra) {
  const dir = mkdtempSync(join(tmpdir(), "fallbench-targets-"));
  const output = join(dir, "result.json");
  const r = spawnSync(BIN, ["run", SCENARIO, "--quiet", "--output", output, ...extra], { encoding: "utf8", timeout: 60_000 });
  let doc;
  try {
    doc = JSON.parse(readFileSync(output, "utf8"));
  } catch {
    doc = undefined;
  }
  rmSync(dir, { recursive: true, force: true });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, doc };
}

test("a custom dialect with header, cookie, auth and a sticky cookie gives a valid result", { skip: !BIN && "FALLBENCH_BIN not set" }, () => {
  const r = run([]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const [runDoc] = r.doc.runs;
  assert.equal(runDoc.valid, true, JSON.stringify(runDoc.invalid_reasons));
  assert.ok(runDoc.counts.deliveries_measured > 0);
  assert.equal(runDoc.delivery.total.lost, 0);
  assert.equal(runDoc.counts.joins_confirmed, runDoc.counts.joins_sent);
  assert.equal(runDoc.counts.clients_connected, runDoc.counts.clients);
  // Secrets stay out of the result.
  const settings = JSON.stringify(runDoc.target_settings);
  for (const secret of ["k-123", "s-456", "t-789"]) assert.ok(!settings.includes(secret), settings);
  assert.equal(runDoc.target_settings.namespace, "/custom");
  assert.equal(runDoc.target_settings.events.delivery.tag, "text");
});

test("a refused namespace and a lost stickiness cookie are named as users read them", { skip: !BIN && "FALLBENCH_BIN not set" }, () => {
  const wrong = run(["--auth", '{"token":"wrong"}', "--measure", "1"]);
  assert.equal(wrong.status, 3, wrong.stdout + wrong.stderr);
  const errors = Object.values(wrong.doc.runs[0].by_strategy).map((s) => Object.keys(s.errors)).flat();
  assert.ok(errors.includes("namespace refused: not authorized: auth token"), JSON.stringify(errors));
  assert.match(wrong.stdout, /invalid: no client connected \(namespace refused: not authorized: auth token\)/);

  const noJar = run(["--no-cookie-jar", "--measure", "1"]);
  const polling = noJar.doc.runs[0].by_strategy.polling.errors;
  assert.ok(polling["HTTP 400: Bad request"] > 0, JSON.stringify(polling));
});

test("a join nobody confirms says what the run waited for", { skip: !BIN && "FALLBENCH_BIN not set" }, () => {
  // The dialect echoes joins as `entered`; waiting for an echo named otherwise confirms nothing.
  const events = JSON.parse(readFileSync(SCENARIO, "utf8")).events;
  events.join.echo_event = "welcome";
  const r = run(["--events", JSON.stringify(events), "--measure", "1"]);
  assert.equal(r.status, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /invalid: no join confirmed \(waited \d+ s for the 'welcome' echo of room r\d\)/);
});
