/**
 * The Prometheus rules and the Grafana dashboard shipped in config/ name Haven's metrics: each name
 * they use must be one Haven exports (a renamed metric would leave an alert that never fires), and
 * each dashboard panel's queries need distinct refIds (Grafana shows only one of two queries "A").
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createMetrics } from "../../src/metrics/registry";

const configDir = join(__dirname, "..", "..", "config");

async function exportedNames(): Promise<Set<string>> {
  // Every metric a serve exports, those read at scrape time included.
  const metrics = createMetrics({
    processMetrics: false,
    openIncidents: () => Promise.resolve(0),
    queueCounts: () => Promise.resolve([]),
  });
  const text = await metrics.registry.metrics();
  return new Set(
    [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
      type === "histogram" ? [name!, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!],
    ),
  );
}

test("the rules and the dashboard use only metrics Haven exports", async () => {
  const exported = await exportedNames();
  for (const file of ["prometheus-rules.yaml", "grafana-dashboard.json"]) {
    const used = new Set(readFileSync(join(configDir, file), "utf8").match(/\bhaven_[a-z_]+/g) ?? []);
    expect(used.size).toBeGreaterThan(3);
    expect({ file, unknown: [...used].filter((name) => !exported.has(name)) }).toEqual({ file, unknown: [] });
  }
});

test("each dashboard panel's queries have distinct refIds", () => {
  const dashboard = JSON.parse(readFileSync(join(configDir, "grafana-dashboard.json"), "utf8")) as {
    panels: Array<{ title: string; targets?: Array<{ refId: string }> }>;
  };
  for (const panel of dashboard.panels) {
    const refIds = (panel.targets ?? []).map((t) => t.refId);
    expect({ panel: panel.title, refIds: new Set(refIds).size }).toEqual({
      panel: panel.title,
      refIds: refIds.length,
    });
  }
});
