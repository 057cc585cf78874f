import type { CartView } from "./cart.js";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch] as string);
}

/**
 * The demo page: the cart, a form to add to it, and the node that served the page. With a
 * session (`live`), it follows the cart's live updates and reloads when another tab changed it.
 */
export function renderPage(cart: CartView, nodeId: string, live = false): string {
  const rows =
    cart.items.length === 0
      ? `<tr><td colspan="3"><em>empty</em></td></tr>`
      : cart.items
          .map((l) => `<tr><td>${escapeHtml(l.sku)}</td><td>${l.qty}</td><td><button data-sku="${escapeHtml(l.sku)}">remove</button></td></tr>`)
          .join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Berth cart</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem; }
  table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
  td { border-bottom: 1px solid #ddd; padding: .3rem; }
  .node { color: #555; font-size: .9rem; }
  #error { color: #b00; }
</style>
</head>
<body>
<h1>Your cart</h1>
<p class="node">served by <strong id="node">${escapeHtml(nodeId)}</strong> — the node that owns your session</p>
<table><tbody>${rows}</tbody></table>
<p>${cart.count} item(s)</p>
<form id="add">
  <input name="sku" placeholder="sku" required maxlength="64">
  <input name="qty" type="number" value="1" min="1" step="1" required>
  <button>add</button>
</form>
<p id="error"></p>
<script>
  const show = async (res) => {
    if (res.ok) return location.reload();
    document.getElementById("error").textContent = (await res.json()).error;
  };
  document.getElementById("add").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    await show(await fetch("/api/cart/items", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sku: f.get("sku"), qty: Number(f.get("qty")) }),
    }));
  });
  for (const b of document.querySelectorAll("button[data-sku]")) {
    b.addEventListener("click", async () => show(await fetch("/api/cart/items/" + encodeURIComponent(b.dataset.sku), { method: "DELETE" })));
  }${live ? `
  // Another tab (or anyone with this session) changed the cart: show it.
  const shown = ${JSON.stringify(JSON.stringify(cart)).replace(/</g, "\\u003c")};
  const updates = new EventSource("/api/cart/updates");
  updates.onmessage = (e) => { if (e.data !== shown) location.reload(); };
  updates.addEventListener("missed", () => location.reload());` : ""}
</script>
</body>
</html>
`;
}
