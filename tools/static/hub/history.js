// The history page: countdowns to each run's expiry, delete one, delete the selected (DELETE /api/history/{id}).
(function () {
  "use strict";
  const table = document.querySelector(".runs-table");
  if (!table) return;
  const csrf = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const errorLine = document.getElementById("history-error");
  const bulk = document.getElementById("bulk-delete"), all = document.getElementById("select-all");
  const bulkStatus = document.getElementById("bulk-status");

  function until(iso) {
    const minutes = Math.round((new Date(iso) - Date.now()) / 60000);
    if (minutes <= 0) return "expired";
    if (minutes < 60) return `${minutes} min`;
    if (minutes < 48 * 60) return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
    return `${Math.round(minutes / 1440)} days`;
  }
  function tick() { for (const time of table.querySelectorAll("time.countdown")) time.textContent = until(time.dateTime); }
  tick();
  setInterval(tick, 30000);

  async function deleteRun(runId) {
    const response = await fetch(`/api/history/${runId}`, {
      method: "DELETE", credentials: "same-origin", headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    });
    if (response.status === 204 || response.status === 404) {
      const row = table.querySelector(`tr[data-run-id="${runId}"]`);
      if (row) row.remove();
      return null;
    }
    const data = await response.json().catch(() => ({}));
    return data.detail || `The server answered ${response.status}.`;
  }
  function picked() { return Array.from(table.querySelectorAll("input.pick-run:checked"), (box) => box.value); }
  function refresh() {
    bulk.disabled = picked().length === 0;
    if (!table.querySelector("tbody tr")) window.location.reload(); // the page is empty: show the next one
  }

  table.addEventListener("click", async (event) => {
    const button = event.target.closest("button.delete-run");
    if (!button) return;
    button.disabled = true;
    const problem = await deleteRun(button.dataset.runId);
    errorLine.textContent = problem || "";
    if (problem) button.disabled = false;
    else {
      bulkStatus.textContent = "Run deleted.";
      bulkStatus.focus(); // its row, and the focused button with it, is gone
    }
    refresh();
  });
  table.addEventListener("change", () => refresh());
  all.addEventListener("change", () => {
    for (const box of table.querySelectorAll("input.pick-run")) box.checked = all.checked;
    refresh();
  });
  bulk.addEventListener("click", async () => {
    const ids = picked();
    bulk.disabled = true;
    bulkStatus.textContent = `Deleting ${ids.length} run${ids.length === 1 ? "" : "s"}…`;
    const problems = (await Promise.all(ids.map(deleteRun))).filter(Boolean);
    errorLine.textContent = problems.length ? `${problems.length} could not be deleted: ${problems[0]}` : "";
    bulkStatus.textContent = `${ids.length - problems.length} run${ids.length - problems.length === 1 ? "" : "s"} deleted.`;
    all.checked = false;
    refresh();
  });
})();
