// The HTTP API of SPEC §2, as the dashboard uses it. Every error becomes an ApiError carrying the
// server's {"error": {code, message}} (or "unreachable" when no answer came at all).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request(path, init = {}, timeoutMs = 10000) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let res;
  try {
    res = await fetch(path, { ...init, signal: controller.signal, cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, "unreachable", "server unreachable: " + (e.name === "AbortError" ? "timed out" : e.message));
  } finally {
    clearTimeout(timer);
  }
  const text = await res.text();
  if (!res.ok) {
    let code = "http_" + res.status;
    let message = text.slice(0, 500) || res.statusText;
    try {
      const body = JSON.parse(text);
      if (body && body.error) {
        code = body.error.code || code;
        message = body.error.message || message;
      }
    } catch {
      // not JSON: keep the raw text
    }
    throw new ApiError(res.status, code, message);
  }
  return text;
}

export async function getJson(path) {
  return JSON.parse(await request(path));
}

export async function getText(path) {
  return request(path);
}

/** Runs one or more statements; resolves to the list of results (SPEC §2 POST /v1/sql). */
export async function runSql(sql, timeoutMs = 30000) {
  const text = await request(
    "/v1/sql",
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sql }) },
    timeoutMs,
  );
  return JSON.parse(text).results || [];
}
