import { randomBytes } from "node:crypto";
import { createWebhookChannel } from "../../src/alerts/channels/webhook";
import { conditionsFromEvaluation, storageUnreachable } from "../../src/alerts/conditions";
import { deliver } from "../../src/alerts/deliver";
import { renderText, type Notice } from "../../src/alerts/message";
import { HavenError } from "../../src/lib/errors";
import { Secret } from "../../src/lib/secret";
import { evaluateTarget } from "../../src/slo/evaluate";
import { captureLogger, startWebhookReceiver, type WebhookReceiver } from "./receivers";

const H = 3_600_000;
const token = `xoxb${randomBytes(8).toString("hex")}`;
let receiver: WebhookReceiver;

interface SlackText {
  type: string;
  text: string;
  emoji?: boolean;
}
interface SlackBlock {
  type: string;
  text?: SlackText;
  fields?: SlackText[];
  elements?: SlackText[];
}
interface SlackPayload {
  text: string;
  blocks: SlackBlock[];
}

const slackPayload = (body: string) => JSON.parse(body) as SlackPayload;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
});

afterAll(async () => {
  await receiver.close();
});

beforeEach(() => {
  receiver.requests.length = 0;
});

/** An RTO-at-risk notice from a real evaluation: restore times growing toward the RTO. */
function rtoAtRiskNotice(kind: Notice["kind"] = "opened"): Notice {
  const now = new Date("2026-11-22T12:00:00Z");
  const evaluation = evaluateTarget({
    target: "orders-db",
    rpoMs: 26 * H,
    rtoMs: 2 * H,
    snapshots: [{ id: "s", finishedAt: new Date("2026-11-22T02:05:00Z"), state: "committed" }],
    verifications: [60, 70, 80, 90].map((minutes, week) => ({
      kind: "restore" as const,
      snapshotId: `s${week}`,
      finishedAt: new Date(Date.parse("2026-10-31T06:00:00Z") + week * 7 * 24 * H),
      totalMs: minutes * 60_000,
      result: "passed" as const,
    })),
    now,
  });
  const [condition] = conditionsFromEvaluation(evaluation);
  expect(condition?.key).toBe("rto-at-risk:orders-db");
  return { kind, key: condition!.key, event: condition!.event, since: now, openedAt: now, at: now };
}

test("format slack posts a Slack-compatible {text, blocks} payload", async () => {
  const channel = createWebhookChannel(
    { url: new Secret(`${receiver.url}/services/${token}`), format: "slack" },
    { index: 0 },
  );
  await channel.send(rtoAtRiskNotice());

  expect(receiver.requests).toHaveLength(1);
  const request = receiver.requests[0]!;
  expect(request.method).toBe("POST");
  expect(request.headers["content-type"]).toBe("application/json");
  const payload = slackPayload(request.body);
  expect(Object.keys(payload).sort()).toEqual(["blocks", "text"]);
  expect(payload.text).toMatch(/^\[haven\] RTO at risk: orders-db: restore time is forecast to reach/);
  expect(payload.blocks.map((b) => b.type)).toEqual(["header", "section", "section", "context"]);
  expect(payload.blocks[0]).toEqual({
    type: "header",
    text: { type: "plain_text", text: "[haven] RTO at risk: orders-db", emoji: true },
  });
  expect(payload.blocks[1]!.text!.type).toBe("mrkdwn");
  expect(payload.blocks[1]!.text!.text).toMatch(/^:warning: RTO at risk\. restore time is forecast/);
  const fields = payload.blocks[2]!.fields!.map((f) => f.text);
  expect(payload.blocks[2]!.fields!.every((f) => f.type === "mrkdwn")).toBe(true);
  expect(fields).toEqual(
    expect.arrayContaining([
      "*Target*\norders-db",
      "*Severity*\nwarning",
      "*RTO*\n2h",
      "*Last restore test*\n1h 30m",
    ]),
  );
  expect(fields.length).toBeLessThanOrEqual(10);
  expect(payload.blocks[3]!.elements![0]!.text).toMatch(
    /^\*What to do:\* restores of orders-db are forecast/,
  );

  // A resolved notice has no "what to do".
  receiver.requests.length = 0;
  await channel.send(rtoAtRiskNotice("resolved"));
  const resolved = slackPayload(receiver.requests[0]!.body);
  expect(resolved.text).toMatch(/^\[haven\] Resolved: RTO at risk: orders-db/);
  expect(resolved.blocks.map((b) => b.type)).toEqual(["header", "section", "section"]);
});

test("slack text escapes mrkdwn control characters", async () => {
  const channel = createWebhookChannel({ url: new Secret(receiver.url), format: "slack" }, { index: 0 });
  const now = new Date("2026-11-22T12:00:00Z");
  const condition = storageUnreachable("nas", new HavenError("TRANSIENT", "EIO <disk> & friends"), now);
  await channel.send({
    kind: "opened",
    key: condition.key,
    event: condition.event,
    since: now,
    openedAt: now,
    at: now,
  });
  const payload = slackPayload(receiver.requests[0]!.body);
  expect(payload.blocks[1]!.text!.text).toContain("EIO &lt;disk&gt; &amp; friends");
});

test("a failing webhook endpoint (500, then 200) is retried until it accepts", async () => {
  receiver.respondWith(500, 503);
  const logs = captureLogger();
  const channel = createWebhookChannel(
    { url: new Secret(`${receiver.url}/hook?token=${token}`), format: "json" },
    { index: 2 },
  );
  const reports = await deliver([channel], rtoAtRiskNotice(), {
    attempts: 4,
    baseDelayMs: 5,
    logger: logs.logger,
  });

  expect(reports).toEqual([{ channel: `webhook #3 (${new URL(receiver.url).host})`, ok: true, attempts: 3 }]);
  expect(receiver.requests).toHaveLength(3);
  // Every try carries the same JSON body.
  const bodies = receiver.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>);
  expect(bodies[0]).toMatchObject({
    source: "haven",
    kind: "opened",
    type: "rto-at-risk",
    severity: "warning",
  });
  expect(bodies[2]).toEqual(bodies[0]);
  expect(logs.text()).toContain("answered HTTP 500");
  expect(logs.text()).toContain("alert delivered after retry");
  expect(logs.text()).not.toContain(token);
});

test("a refused request (HTTP 404) is not retried; an unreachable one gives up after the attempts", async () => {
  const logs = captureLogger();
  receiver.respondWith(404);
  const refused = createWebhookChannel(
    { url: new Secret(`${receiver.url}/${token}`), format: "json" },
    { index: 0 },
  );
  const [report] = await deliver([refused], rtoAtRiskNotice(), {
    attempts: 4,
    baseDelayMs: 5,
    logger: logs.logger,
  });
  expect(report).toMatchObject({
    ok: false,
    attempts: 1,
    error: expect.stringMatching(/answered HTTP 404$/),
  });
  expect(receiver.requests).toHaveLength(1);

  // A receiver that has closed: connection refused on each try.
  const gone = await startWebhookReceiver();
  await gone.close();
  const unreachable = createWebhookChannel(
    { url: new Secret(`${gone.url}/${token}`), format: "json" },
    { index: 0 },
  );
  const [gaveUp] = await deliver([unreachable], rtoAtRiskNotice(), {
    attempts: 3,
    baseDelayMs: 5,
    logger: logs.logger,
  });
  expect(gaveUp).toMatchObject({
    ok: false,
    attempts: 3,
    error: expect.stringMatching(/request failed: .*ECONNREFUSED/),
  });

  // An invalid URL fails permanently without quoting it.
  const invalid = createWebhookChannel(
    { url: new Secret(`not a url ${token}`), format: "json" },
    { index: 0 },
  );
  const [bad] = await deliver([invalid], rtoAtRiskNotice(), {
    attempts: 3,
    baseDelayMs: 5,
    logger: logs.logger,
  });
  expect(bad).toMatchObject({ channel: "webhook #1 (invalid URL)", ok: false, attempts: 1 });
  expect(logs.text()).not.toContain(token);
  expect(JSON.stringify([report, gaveUp, bad])).not.toContain(token);
});

test("a URL with credentials (a receiver behind basic auth) sends them as an Authorization header", async () => {
  const password = `p@ss:${randomBytes(4).toString("hex")}`;
  const url = new URL(`${receiver.url}/hook?token=${token}`);
  url.username = "haven";
  url.password = password; // percent-encoded by URL: `@` and `:` may not stand in userinfo
  const channel = createWebhookChannel({ url: new Secret(url.href), format: "json" }, { index: 0 });
  const [report] = await deliver([channel], rtoAtRiskNotice(), { attempts: 1 });
  expect(report).toEqual({ channel: `webhook #1 (${url.host})`, ok: true, attempts: 1 });
  expect(receiver.requests).toHaveLength(1);
  expect(receiver.requests[0]?.path).toBe(`/hook?token=${token}`);
  expect(receiver.requests[0]?.headers.authorization).toBe(
    `Basic ${Buffer.from(`haven:${password}`).toString("base64")}`,
  );
});

test("messages say what, which target, since when and what to do", () => {
  const { subject, text } = renderText({ ...rtoAtRiskNotice(), at: new Date("2026-11-22T15:00:00Z") });
  expect(subject).toBe("[haven] RTO at risk: orders-db");
  expect(text.split("\n")).toEqual(
    expect.arrayContaining([
      "Target: orders-db",
      "Since: 2026-11-22 12:00 UTC (3h ago)",
      "Severity: warning",
      "RTO: 2h",
      expect.stringMatching(/^What to do: restores of orders-db are forecast to reach the RTO/),
    ]),
  );
});
