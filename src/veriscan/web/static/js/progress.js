// A scan's live progress: socket.io events first, a slow status poll as a fallback.

import { api } from "./api.js";
import { watch } from "./live.js";
import { h, link } from "./ui.js";

const DONE = new Set(["completed", "failed", "COMPLETED", "FAILED"]);

async function currentState(kind, scanId) {
  if (kind === "malware") {
    const s = await api(`/api/scan/${scanId}/status`);
    return { status: s.status, progress: s.progress, stage: s.stage, ratio: s.detection_ratio, error: s.error };
  }
  const { data } = await api(`/api/scans/${scanId}`);
  return { status: data.status, progress: data.progress, stage: data.stage,
    result: data.result, riskScore: data.riskScore, error: data.error };
}

// Returns {el, stop}; onFinish(state) is called once when the scan completes or fails.
export function followScan(kind, scanId, onFinish) {
  const bar = h("progress", { max: 100, value: 0, "aria-label": "Scan progress" });
  const stage = h("span", { class: "stage" }, "Waiting for a worker…");
  const outcome = h("div", { class: "outcome", "aria-live": "polite" });
  const el = h("section", { class: "card live", "data-scan": scanId },
    h("h2", {}, kind === "malware" ? "Malware scan" : "Media analysis"),
    h("div", { class: "progress-row" }, bar, stage), outcome);
  let finished = false;

  function finish(state) {
    if (finished) return;
    finished = true;
    stop();
    bar.value = 100;
    const href = `/scans/${kind}/${scanId}`;
    if (DONE.has(state.status) && String(state.status).toLowerCase() === "failed") {
      stage.textContent = "Failed";
      outcome.replaceChildren(h("p", { class: "alert error", role: "alert" }, `Scan failed: ${state.error || "unknown error"}`),
        link(href, "Open the scan"));
    } else {
      stage.textContent = "Completed";
      const summary = kind === "malware"
        ? h("p", { class: "ratio" }, `Detection ratio ${state.ratio ?? "n/a"}`)
        : h("p", { class: "ratio" }, `Verdict ${state.result ?? "n/a"} · risk ${state.riskScore ?? "n/a"}`);
      outcome.replaceChildren(summary, link(href, "Open the result", { class: "button" }));
    }
    if (onFinish) onFinish(state);
  }

  function onEvent(event, data) {
    if (event === "scan:progress") {
      bar.value = data.progress ?? bar.value;
      stage.textContent = `${data.stage || "working"} (${data.progress ?? 0}%)`;
      if (kind === "malware" && data.engines) {
        // The local engines have answered: their verdict now, VirusTotal's to come.
        const waiting = data.engines.filter((e) => e.state === "waiting").map((e) => e.name);
        outcome.replaceChildren(h("p", { class: "so-far" },
          `So far: ${data.verdict} (detection ratio ${data.detection_ratio ?? "n/a"})`,
          waiting.length ? ` · waiting for ${waiting.join(", ")}` : ""));
      }
    } else if (event === "scan:complete") {
      finish({ status: "completed", ratio: data.detection_ratio, result: data.result, riskScore: data.riskScore });
    } else if (event === "scan:error") {
      finish({ status: "failed", error: data.error });
    }
  }

  // Declared before watch(): events kept for this scan may be replayed at once, and
  // finishing then must be able to stop what is not started yet.
  let timer = null;
  let unwatch = () => {};
  function stop() {
    if (timer !== null) clearInterval(timer);
    unwatch();
  }
  unwatch = watch(scanId, onEvent);
  if (finished) unwatch();
  async function check() {
    try {
      const state = await currentState(kind, scanId);
      if (finished) return;
      if (DONE.has(state.status)) finish(state);
      else if (state.progress) {
        bar.value = Math.max(bar.value, state.progress);
        stage.textContent = `${state.stage || state.status} (${bar.value}%)`;
      }
    } catch { /* the page shows API errors elsewhere; keep listening */ }
  }
  // Once now (the scan may have finished before we listened), then slowly in case
  // the socket cannot connect (a proxy without WebSocket, for instance).
  if (!finished) {
    check();
    timer = setInterval(check, 8000);
  }
  return { el, stop };
}
