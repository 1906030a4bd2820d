// Starts `sluice demo` on free ports, lets its generators run, and saves screenshots of the
// dashboard as a wall screen sees it (1920×1080): a quick visual check, not a test.
//
//   node tests/browser/demo_screenshot.mjs [seconds to wait, default 20]

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
const ARTIFACTS = process.env.SLUICE_ARTIFACTS || path.join(repo, "build/debug/test-artifacts/browser");
const waitSeconds = Number(process.argv[2] || 20);


const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-demo-shot-"));
const port = await freePort();
const demo = spawn(SLUICE_BIN, ["demo", "--data-dir", path.join(dir, "data"), "--http-port", String(port), "--pg-port", String(await freePort()), "--kafka-port", String(await freePort())], {
  stdio: ["ignore", "pipe", "inherit"],
});
let out = "";
const url = await new Promise((resolve, reject) => {
  demo.stdout.on("data", (d) => {
    out += d;
    const m = /dashboard:\s+(http:\/\/\S+\/)/.exec(out);
    if (m) resolve(m[1]);
  });
  demo.once("exit", (code) => reject(new Error(`demo exited with ${code}:\n${out}`)));
});
console.log(`demo dashboard at ${url}`);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  await page.goto(url);
  await page.waitForTimeout(waitSeconds * 1000);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, "demo-wall.png") });
  await page.screenshot({ path: path.join(ARTIFACTS, "demo-full.png"), fullPage: true });
  const latency = await page.evaluate(() => window.__sluiceLatency.summary());
  console.log(`event→pixel over ${waitSeconds} s: ${JSON.stringify(latency)}`);
  console.log(`screenshots: ${ARTIFACTS}/demo-wall.png, demo-full.png`);
} finally {
  await browser.close();
  demo.kill("SIGTERM");
  await new Promise((r) => demo.once("exit", r));
  fs.rmSync(dir, { recursive: true, force: true });
}
