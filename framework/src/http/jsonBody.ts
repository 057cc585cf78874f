import type { MiddlewareHandler } from "hono";
import { requestInfo } from "./requestInfo.js";
import type { BerthEnv } from "./types.js";

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * A route middleware that accepts only a JSON body (`Content-Type: application/json`, else
 * 415), parses it (malformed: 400), and checks it with `parse`, which returns the typed value
 * or a message saying what is wrong (400 `{ "error": message }`). The handler reads the value
 * with `c.req.valid("json")`. Size is limited before this runs (`defineHttp` `bodyLimit`).
 *
 * @param parse turns the parsed JSON into a typed object, or returns an error message
 * @example
 * ```ts
 * const name = jsonBody((v) => {
 *   const n = (v as { name?: unknown } | null)?.name;
 *   return typeof n === "string" ? { name: n } : "send {\"name\": string}";
 * });
 * app.post("/api/hello", name, (c) => c.json({ hello: c.req.valid("json").name }));
 * ```
 */
export function jsonBody<T extends object>(parse: (value: unknown) => T | string): MiddlewareHandler<BerthEnv, string, { in: { json: unknown }; out: { json: T } }> {
  return async (c, next) => {
    // Berth's own view of the header when there is one: c.req.header() builds a web Headers object.
    const info = requestInfo(c);
    const header = info !== undefined ? info.header("content-type") : c.req.header("content-type");
    const type = (header ?? "").split(";")[0]?.trim() ?? "";
    if (!JSON_TYPE.test(type)) return c.json({ error: `send the body as JSON with Content-Type: application/json (got ${type === "" ? "no Content-Type" : type})` }, 415);
    let value: unknown;
    try {
      value = JSON.parse(await c.req.text());
    } catch {
      return c.json({ error: "the request body is not valid JSON" }, 400);
    }
    const parsed = parse(value);
    if (typeof parsed === "string") return c.json({ error: parsed }, 400);
    c.req.addValidatedData("json", parsed);
    await next();
  };
}
