import type { MetricFamily } from "../metrics/exposition.js";
import type { HttpStats } from "./createHttpHandler.js";

/** The HTTP layer's counters as metric families (listed in docs/guides/metrics.md). */
export function httpFamilies(s: HttpStats): MetricFamily[] {
  return [
    {
      name: "berth_http_requests_total",
      help: "HTTP requests this node handled, by how: its route ran here (local) or it was forwarded to the session's owner.",
      type: "counter",
      samples: [
        { labels: { handled: "local" }, value: s.local },
        { labels: { handled: "forwarded" }, value: s.forwarded },
      ],
    },
    { name: "berth_http_forward_retries_total", help: "Forward attempts repeated after a 421 or an unreachable owner.", type: "counter", samples: [{ value: s.retries }] },
    { name: "berth_http_forward_failures_total", help: "Forwarded requests answered with a gateway error (502/503/504).", type: "counter", samples: [{ value: s.failed }] },
    { name: "berth_http_misdirected_total", help: "Forwarded requests this node answered 421 (it does not own the session).", type: "counter", samples: [{ value: s.misdirected }] },
    { name: "berth_http_out_of_touch_total", help: "Requests refused with 503 at once because this node's membership lease had lapsed (cut off from NATS).", type: "counter", samples: [{ value: s.outOfTouch }] },
    { name: "berth_http_rejected_cookies_total", help: "Requests whose session cookie did not verify (each started a new session).", type: "counter", samples: [{ value: s.rejectedCookies }] },
    { name: "berth_http_live_streams", help: "Live update streams (Server-Sent Events) open on this node.", type: "gauge", samples: [{ value: s.liveOpen }] },
    { name: "berth_http_live_streams_total", help: "Live update streams this node opened.", type: "counter", samples: [{ value: s.liveServed }] },
  ];
}
