// Checks a result document from `fallbench run` (the bench-smoke test): the fields the schema
// (reports/schema/result.schema.json) requires are there, every run is valid, every delivery counted,
// nothing lost, duplicated or reordered. Usage: node tests/bench/check_result.js RESULT.json
import { readFileSync } from "node:fs";

const path = process.argv[2];
const doc = JSON.parse(readFileSync(path, "utf8"));
const problems = [];
const need = (cond, what) => { if (!cond) problems.push(what); };

need(doc.schema_version === 1, "schema_version is 1");
for (const key of ["generator", "machine", "scenario", "runs", "comparisons"]) need(key in doc, `has ${key}`);
need(doc.generator?.git_commit?.length > 0, "generator.git_commit");
need(Array.isArray(doc.runs) && doc.runs.length > 0, "at least one run");
for (const run of doc.runs ?? []) {
  const name = `${run.target}/${run.case}`;
  need(run.valid === true, `${name}: valid (${(run.invalid_reasons ?? []).join("; ")})`);
  need(run.counts?.clients_connected === run.counts?.clients, `${name}: every client connected`);
  need(run.counts?.deliveries_measured > 0, `${name}: deliveries measured`);
  need(run.latency?.fanout_corrected?.count === run.counts?.deliveries_measured, `${name}: one latency per measured delivery`);
  const total = run.delivery?.total ?? {};
  need(total.expected > 0, `${name}: the ledger expected deliveries`);
  need(total.lost === 0 && total.duplicated === 0 && total.reordered === 0,
       `${name}: no loss, duplication or reordering (${JSON.stringify(total)})`);
  for (const [strategy, s] of Object.entries(run.by_strategy ?? {})) {
    need(s.wire?.bytes_per_delivery > 0, `${name}/${strategy}: wire bytes per delivery`);
    need(s.ttfm?.count > 0, `${name}/${strategy}: time to first message`);
  }
  // The server's cost is measured when the harness started it (not for an external --url).
  if (!run.target_description?.startsWith("external")) {
    need(run.cost?.server?.cpu_s >= 0 && run.cost?.server?.peak_rss_bytes > 0, `${name}: server cost`);
    // One RSS sample a second from the run's start, summarised over the measure phase (docs/soak.md).
    if ((run.topology?.kind ?? "single") === "single") {
      const rss = run.rss ?? {};
      const last = rss.samples?.at(-1)?.[0] ?? 0;
      need(rss.samples?.length >= Math.floor(last) && rss.samples?.every((s) => s[1] > 0), `${name}: server RSS samples`);
      need(rss.summary?.samples >= 2 && Number.isFinite(rss.summary?.slope_kb_per_min), `${name}: server RSS summary`);
    }
  }
}
if (problems.length > 0) {
  console.error(`${path}: ${problems.length} problem(s):\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log(`${path}: ${doc.runs.length} run(s) valid, nothing lost`);
