// Browser test of the built-in dashboard: the real `sluice server` (SLUICE_BIN, default the Debug
// build), Debian's Chromium driven by playwright-core, events ingested over HTTP. Asserts what a
// person looking at the screen would check: the numbers and the chart move with the data, the
// stale badge appears when ingestion stops and goes when it resumes, a SQL error shows the
// server's message, and the page survives the view being dropped and the server going away.
//
//   node tests/browser/run.mjs            (after `npm ci` in tests/browser and a Debug build)
//
// Screenshots go to SLUICE_ARTIFACTS (default build/debug/test-artifacts/browser/).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { freePort } from "./free_port.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const SLUICE_BIN = process.env.SLUICE_BIN || path.join(repo, "build/debug/src/cli/sluice");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = process.env.SLUICE_ARTIFACTS || path.join(repo, "build/debug/test-artifacts/browser");
const STALE_SECONDS = 3;

// Flags for Chromium on a machine with no outside network (see the README's "Browser tests").
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];


const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Server {
  async start() {
    // A restart keeps the data dir and the ports, as a redeploy would.
    this.dir ??= fs.mkdtempSync(path.join(os.tmpdir(), "sluice-browser-"));
    this.port ??= await freePort();
    this.pgPort ??= await freePort();
    this.kafkaPort ??= await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.logPath = path.join(this.dir, "server.log");
    const log = fs.openSync(this.logPath, "a");
    this.proc = spawn(
      SLUICE_BIN,
      ["server", "--data-dir", path.join(this.dir, "data"), "--http-port", String(this.port), "--pg-port", String(this.pgPort),
       "--kafka-port", String(this.kafkaPort)],
      { stdio: ["ignore", log, log] },
    );
    this.exited = new Promise((resolve) => this.proc.once("exit", (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`sluice exited during startup:\n${this.log()}`);
      try {
        const res = await fetch(this.url + "/ready");
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`sluice did not become ready:\n${this.log()}`);
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  async sql(sql) {
    const res = await fetch(this.url + "/v1/sql", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sql }),
    });
    return { status: res.status, body: await res.json() };
  }

  async ingest(topic, events) {
    const res = await fetch(`${this.url}/v1/topics/${topic}/events`, {
      method: "POST",
      headers: { "Content-Type": "application/x-ndjson" },
      body: events.map((e) => JSON.stringify(e)).join("\n") + "\n",
    });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.accepted, events.length, JSON.stringify(body));
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 30000);
    await this.exited;
    clearTimeout(timer);
  }

  cleanup() {
    if (this.proc && this.proc.exitCode === null) this.proc.kill("SIGKILL");
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Polls `fn` until it returns a truthy value (returned) or `timeoutMs` passes (throws `what`).
async function eventually(what, fn, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await sleep(100);
  }
}

const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  await fn();
  results.push(name);
  console.log(`  ok  ${name} (${Date.now() - t0} ms)`);
}

async function main() {
  if (!fs.existsSync(SLUICE_BIN)) throw new Error(`no sluice binary at ${SLUICE_BIN} (build it: cmake --build build/debug)`);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (scripts/install-deps.sh installs Debian's chromium)`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });

  const server = new Server();
  await server.start();
  let browser;
  let page;
  const pageErrors = [];
  try {
    // A windowed view (time series) and a plain aggregate (top-N bars) over one source.
    const ddl = await server.sql(
      "CREATE SOURCE orders (region VARCHAR, amount BIGINT, ts TIMESTAMP, " +
        "WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (topic = 'orders');" +
        "CREATE MATERIALIZED VIEW revenue_per_window AS SELECT region, window_start, count(*) AS orders, " +
        "sum(amount) AS revenue FROM TUMBLE(orders, ts, INTERVAL '10' SECOND) GROUP BY region, window_start;" +
        "CREATE MATERIALIZED VIEW revenue_by_region AS SELECT region, sum(amount) AS revenue FROM orders GROUP BY region",
    );
    assert.equal(ddl.status, 200, JSON.stringify(ddl.body));

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, name + ".png"), fullPage: true });
    const text = (sel) => page.locator(sel).first().innerText();
    const attr = (sel, name) => page.locator(sel).first().getAttribute(name);
    const P0 = '[data-testid="live-panel-0"]';
    const P1 = '[data-testid="live-panel-1"]';

    await step("dashboard loads from the binary and subscribes to both views", async () => {
      const res = await page.goto(`${server.url}/?stale=${STALE_SECONDS}&poll=500&view=revenue_per_window&view2=revenue_by_region`);
      assert.equal(res.status(), 200);
      assert.match(res.headers()["content-type"], /text\/html/);
      await page.waitForSelector(`${P0}[data-status="live"]`, { timeout: 15000 });
      await page.waitForSelector(`${P1}[data-status="live"]`, { timeout: 15000 });
      await eventually("the connection pill", async () => (await text('[data-testid="conn-status"]')).toLowerCase() === "connected");
      assert.equal(await text('[data-testid="kpi-views"]'), "2 · 0");
      await shot("01-empty");
    });

    // Two 10-second windows with known totals: 1+2+...+20 = 210 in the first, 5 × 100 in the second.
    const w1 = Array.from({ length: 20 }, (_, i) => ({ region: i % 2 ? "emea" : "amer", amount: i + 1, ts: "2026-01-01T00:00:03Z" }));
    const w2 = Array.from({ length: 5 }, () => ({ region: "apac", amount: 100, ts: "2026-01-01T00:00:14Z" }));

    await step("the numbers and the chart follow the ingested events", async () => {
      const version0 = Number(await attr(`${P0} [data-testid="live-chart"]`, "data-version"));
      await server.ingest("orders", w1);
      await eventually("the first window's revenue", async () => (await text(`${P0} [data-testid="live-primary"]`)) === "210");
      assert.equal(await attr(`${P0} [data-testid="live-chart"]`, "data-points"), "1");
      assert.equal(await text(`${P0} [data-testid="live-rows"]`), "2");
      await server.ingest("orders", w2);
      await eventually("the second window", async () => (await attr(`${P0} [data-testid="live-chart"]`, "data-points")) === "2");
      await eventually("the second window's revenue", async () => (await text(`${P0} [data-testid="live-primary"]`)) === "500");
      assert.equal(await text(`${P0} [data-testid="live-secondary"]`), "210");
      assert.ok(Number(await attr(`${P0} [data-testid="live-chart"]`, "data-version")) > version0);
      assert.ok(Number(await text(`${P0} [data-testid="live-updates"]`)) >= 2);
      // The uPlot canvas is really there and sized.
      const box = await page.locator(`${P0} [data-testid="live-chart"] canvas`).first().boundingBox();
      assert.ok(box && box.width > 200 && box.height > 100, JSON.stringify(box));
      // Top-N bars of the plain aggregate: apac 500, amer 100 (1+3+...+19), emea 110.
      await eventually("three bars", async () => (await page.locator(`${P1} [data-testid="bar"]`).count()) === 3);
      const labels = await page.locator(`${P1} [data-testid="bar"] .bar-label`).allInnerTexts();
      const values = await page.locator(`${P1} [data-testid="bar"] .bar-value`).allInnerTexts();
      assert.deepEqual(labels, ["apac", "emea", "amer"]);
      assert.deepEqual(values, ["500", "110", "100"]);
      assert.equal(await text(`${P1} [data-testid="live-primary"]`), "710");
      // The topics and views tables come from /v1/topics and /metrics.
      await eventually("the topic row", async () => (await text('[data-testid="topic-orders"]')).includes("25"));
      await eventually("the view row", async () => (await page.locator('[data-testid="view-revenue_per_window"]').count()) === 1);
      // State keys (aggregate groups) come from sluice_view_state_keys: one per region.
      await eventually("the state column", async () =>
        /^3 · \d+/.test(await text('[data-testid="view-revenue_by_region"] [data-testid="view-state"]')),
      );
      await shot("02-live");
    });

    await step("event-to-pixel latency is measured in the page", async () => {
      const summary = await page.evaluate(() => window.__sluiceLatency.summary("source_ms"));
      const arrival = await page.evaluate(() => window.__sluiceLatency.summary("arrival_ms"));
      console.log(`      event→pixel: ${JSON.stringify(summary)}; arrival→pixel: ${JSON.stringify(arrival)}`);
      assert.ok(summary.count >= 2, JSON.stringify(summary));
      assert.ok(summary.p50 >= 0 && summary.p50 < 5000, JSON.stringify(summary));
      fs.writeFileSync(path.join(ARTIFACTS, "latency.json"), JSON.stringify({ source_ms: summary, arrival_ms: arrival }, null, 2));
    });

    await step("the stale indicator appears when ingestion stops and goes when it resumes", async () => {
      const stale = page.locator(`${P0} [data-testid="stale-indicator"]`);
      const live = page.locator(`${P0} [data-testid="live-indicator"]`);
      await server.ingest("orders", [{ region: "apac", amount: 1, ts: "2026-01-01T00:00:15Z" }]);
      await eventually("fresh data", async () => (await text(`${P0} [data-testid="live-primary"]`)) === "501");
      assert.equal(await stale.isVisible(), false);
      assert.equal(await live.isVisible(), true);
      const stoppedAt = Date.now();
      await stale.waitFor({ state: "visible", timeout: (STALE_SECONDS + 5) * 1000 });
      const after = (Date.now() - stoppedAt) / 1000;
      assert.ok(after >= STALE_SECONDS - 0.5, `stale after ${after}s, limit ${STALE_SECONDS}s`);
      assert.match(await stale.innerText(), /STALE/);
      assert.equal(await live.isVisible(), false);
      await shot("03-stale");
      await server.ingest("orders", [{ region: "apac", amount: 1, ts: "2026-01-01T00:00:16Z" }]);
      await stale.waitFor({ state: "hidden", timeout: 5000 });
      assert.equal(await text(`${P0} [data-testid="live-primary"]`), "502");
    });

    await step("the SQL console shows results, and errors with the server's message", async () => {
      const bad = "SELECT no_such_column FROM revenue_per_window";
      const direct = await server.sql(bad);
      assert.equal(direct.status, 400);
      const input = page.locator('[data-testid="sql-input"]');
      await input.fill(bad);
      await page.locator('[data-testid="sql-run"]').click();
      const error = page.locator('[data-testid="sql-error"]');
      await error.waitFor({ state: "visible", timeout: 10000 });
      assert.equal(await text('[data-testid="sql-error-message"]'), direct.body.error.message);
      assert.match(await error.innerText(), new RegExp(direct.body.error.code));
      await shot("04-sql-error");

      await input.fill("SELECT region, revenue FROM revenue_by_region");
      await input.press("Control+Enter");
      await error.waitFor({ state: "hidden", timeout: 10000 });
      await eventually("three result rows", async () => (await attr('[data-testid="sql-result"]', "data-rows")) === "3");
      assert.equal(await page.locator('[data-testid="sql-result"] tbody tr').count(), 3);
      assert.equal(await page.locator('[data-testid="sql-bars"] [data-testid="bar"]').count(), 3);
      await shot("05-sql-result");
    });

    await step("dropping the view shows an error state and the page keeps working", async () => {
      const dropped = await server.sql("DROP MATERIALIZED VIEW revenue_per_window");
      assert.equal(dropped.status, 200, JSON.stringify(dropped.body));
      const error = page.locator(`${P0} [data-testid="view-error"]`);
      await error.waitFor({ state: "visible", timeout: 10000 });
      assert.match(await error.innerText(), /revenue_per_window/);
      // The other panel still follows its view.
      await server.ingest("orders", [{ region: "amer", amount: 1000, ts: "2026-01-01T00:00:20Z" }]);
      await eventually("the other panel updating", async () => (await text(`${P1} [data-testid="live-primary"]`)) === "1712");
      await eventually("the views table", async () => (await page.locator('[data-testid="view-revenue_per_window"]').count()) === 0);
      await shot("06-view-dropped");
    });

    await step("a stopped server is reported as unreachable", async () => {
      await server.stop();
      await page.locator('[data-testid="conn-error"]').waitFor({ state: "visible", timeout: 10000 });
      assert.match(await text('[data-testid="conn-error"]'), /unreachable/i);
      await shot("07-server-down");
    });

    await step("the page recovers by itself when the server is back", async () => {
      await server.start();
      await page.locator('[data-testid="conn-error"]').waitFor({ state: "hidden", timeout: 15000 });
      // The view is rebuilt from the log on start; the panel resubscribes and gets its snapshot.
      await page.waitForSelector(`${P1}[data-status="live"]`, { timeout: 20000 });
      await eventually("the view's rows after the restart", async () => (await text(`${P1} [data-testid="live-primary"]`)) === "1712", 20000);
      await page.locator(`${P1} [data-testid="view-error"]`).waitFor({ state: "hidden", timeout: 5000 });
      await server.ingest("orders", [{ region: "emea", amount: 8, ts: "2026-01-01T00:00:21Z" }]);
      await eventually("a change after the restart", async () => (await text(`${P1} [data-testid="live-primary"]`)) === "1720");
      await shot("08-server-back");
    });

    assert.deepEqual(pageErrors, [], "uncaught errors in the page");
  } catch (e) {
    if (page) await page.screenshot({ path: path.join(ARTIFACTS, "failure.png"), fullPage: true }).catch(() => {});
    console.error(`server log (${server.logPath}):\n${server.log().slice(-4000)}`);
    throw e;
  } finally {
    if (browser) await browser.close();
    await server.stop();
    server.cleanup();
  }
  console.log(`browser tests: ${results.length} passed; screenshots in ${ARTIFACTS}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
