"""The report as one self-contained HTML page for people: inline CSS, plots as inline SVG (matplotlib, Agg).

Every text from the dataset or from Verity is escaped: answers quote cards, and a card is data.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from html import escape

import matplotlib

matplotlib.use("Agg")  # no display, no GUI toolkit: the page is written by CI too
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from evals.harness.reporting.gate import GateResult
from evals.harness.reporting.report import EvalReport, QuestionRow

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#1d1d1f;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;
vertical-align:top;overflow-wrap:anywhere}th{background:#f6f6f6}.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#17692a}.bad{color:#b00020;font-weight:600}.warn{background:#fff4d6;padding:8px 12px;border-radius:6px}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px}
.plots figure{margin:0}.plots svg{width:100%;height:auto}.meta td:first-child{color:#666;width:200px}
tr.fail{background:#fff0f0}small{color:#666}.cite{white-space:nowrap}
"""


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def plot_decision_scores(report: EvalReport) -> str:
    """Best verified card's relevance (confidence) for answerable and should-refuse questions, with the bar."""
    answerable = [q.best_trusted for q in report.questions if q.expected_outcome == "answer" and q.best_trusted]
    refuse = [q.best_trusted for q in report.questions if q.expected_outcome != "answer" and q.best_trusted]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    bins = [x / 50 for x in range(-5, 41)]
    ax.hist(answerable, bins=bins, alpha=0.65, label="should answer", color="#2a7de1")
    ax.hist(refuse, bins=bins, alpha=0.65, label="should refuse", color="#e1572a")
    ax.axvline(report.run.answer_confidence, color="black", linestyle="--", label="answer confidence bar")
    ax.set_xlabel("best verified card's confidence")
    ax.set_ylabel("questions")
    ax.set_title("Decision scores")
    ax.legend(fontsize=8)
    return _svg(fig)


def plot_faithfulness(report: EvalReport) -> str:
    offline = [q.offline_faithfulness for q in report.questions if q.offline_faithfulness is not None]
    judged = [q.ragas_faithfulness for q in report.questions if q.ragas_faithfulness is not None]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    bins = [x / 10 for x in range(11)]
    ax.hist(offline, bins=bins, alpha=0.7, label=f"offline (guard), n={len(offline)}", color="#2a9d5c")
    if judged:
        ax.hist(judged, bins=bins, alpha=0.6, label=f"ragas (LLM judge), n={len(judged)}", color="#8a4fd1")
    ax.set_xlabel("share of an answer's statements supported by its cited cards")
    ax.set_ylabel("answers")
    ax.set_title("Faithfulness per answer")
    ax.legend(fontsize=8)
    return _svg(fig)


def plot_tradeoff(report: EvalReport) -> str:
    points = [p for p in report.tradeoff if p.answer_rate is not None and p.wrong_answer_rate is not None]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    xs = [p.wrong_answer_rate or 0.0 for p in points]
    ys = [p.answer_rate or 0.0 for p in points]
    ax.plot(xs, ys, marker=".", color="#2a7de1")
    for p, x, y in zip(points, xs, ys, strict=True):
        if round(p.threshold * 100) % 5 == 0:
            ax.annotate(f"{p.threshold:.2f}", (x, y), fontsize=7, xytext=(3, -9), textcoords="offset points")
    here = min(points, key=lambda p: abs(p.threshold - report.run.answer_confidence), default=None)
    if here is not None:
        ax.plot(
            [here.wrong_answer_rate or 0.0], [here.answer_rate or 0.0], "o", color="black", label="current threshold"
        )
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("wrong-answer rate (should refuse, answered)")
    ax.set_ylabel("answer rate (answerable, answered)")
    ax.set_title("Refusal trade-off across confidence bars")
    return _svg(fig)


def plot_latency(report: EvalReport) -> str:
    values = [q.latency_ms for q in report.questions]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.hist(values, bins=30, color="#777")
    for name, style, color in (
        ("latency.p50_ms", "--", "black"),
        ("latency.p95_ms", ":", "black"),
        ("latency.floor_p50_ms", "-", "#2a9d5c"),
    ):
        value = report.metrics.get(name)
        if isinstance(value, (int, float)):
            label = name.split(".")[1].removesuffix("_ms").replace("_", " ")
            ax.axvline(value, color=color, linestyle=style, label=f"{label} {value:.0f} ms")
    ax.set_xlabel("answer latency (ms)")
    ax.set_ylabel("questions")
    ax.set_title("Latency")
    ax.legend(fontsize=8)
    return _svg(fig)


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _metrics_table(report: EvalReport, gate: GateResult | None) -> str:
    failed = {r.metric for r in gate.regressions} if gate else set()
    rows = []
    for name, value in report.metrics.items():
        status = ' <span class="bad">regressed</span>' if name in failed else ""
        rows.append(f"<tr><td>{escape(name)}{status}</td><td class='num'>{_fmt(value)}</td></tr>")
    return "<table><tr><th>metric</th><th class='num'>value</th></tr>" + "".join(rows) + "</table>"


def _gate_section(gate: GateResult | None) -> str:
    if gate is None:
        return ""
    head = '<p class="ok">Gate passed.</p>' if gate.passed else '<p class="bad">Gate failed.</p>'
    items = [f"<li class='bad'>{escape(r.describe())}</li>" for r in gate.regressions]
    items += [f"<li>improved: {escape(i)}</li>" for i in gate.improvements]
    items += [f"<li><small>{escape(n)}</small></li>" for n in gate.notes]
    return f"<h2>Gate</h2>{head}<ul>{''.join(items)}</ul>"


def _citations(q: QuestionRow) -> str:
    parts = []
    for c in q.citations:
        mark = "✓" if c.visible and c.verified else "✗ " + ("hidden" if not c.visible else "not verified")
        css = "ok" if c.visible and c.verified else "bad"
        parts.append(f"<span class='cite'>[{c.marker}] {escape(c.card_id)} <span class='{css}'>{mark}</span></span>")
    return "<br>".join(parts)


def _question_row(q: QuestionRow) -> str:
    failed = [name for name, ok in q.checks.items() if not ok]
    outcome_css = "ok" if q.correct else "bad"
    answer = escape(q.answer) if q.answer else "<small>(refused)</small>"
    dropped = [s for s in q.sentences if not s.supported]
    for s in dropped:
        answer += f"<br><small class='bad'>unsupported ({escape(s.problem or '')}): {escape(s.sentence)}</small>"
    if q.ragas_error:
        answer += f"<br><small>judge: {escape(q.ragas_error)}</small>"
    return (
        f"<tr class='{'fail' if failed else ''}'><td>{escape(q.id)}<br><small>{escape(q.language)}"
        f"{' ' + escape(','.join(q.groups)) if q.groups else ''}</small></td>"
        f"<td>{escape(q.question)}</td>"
        f"<td>{escape(q.expected_outcome)}<br><small>{escape(', '.join(q.expected_card_ids))}</small></td>"
        f"<td class='{outcome_css}'>{escape(q.outcome)}<br><small>{escape(', '.join(q.candidates))}</small></td>"
        f"<td>{answer}</td><td>{_citations(q)}</td>"
        f"<td class='num'>{_fmt(q.offline_faithfulness)}<br><small>{_fmt(q.ragas_faithfulness)}</small></td>"
        f"<td class='num'>{_fmt(q.best_trusted)}</td><td class='num'>{q.latency_ms:.0f}</td>"
        f"<td class='bad'>{escape(', '.join(failed))}</td></tr>"
    )


def render(report: EvalReport, gate: GateResult | None = None) -> str:
    run = report.run
    warnings = "".join(f"<p class='warn'>{escape(w)}</p>" for w in run.warnings)
    meta = [
        ("dataset", f"{run.dataset} ({run.questions} questions, sha256 {run.dataset_sha256[:12]})"),
        ("target", run.target),
        ("started", run.started_at.isoformat()),
        ("duration", f"{run.seconds:.1f} s"),
        ("threshold / margin", f"{run.answer_confidence} / {run.untrusted_margin} (confidence)"),
        ("LLM judge", run.judge or "none: ragas faithfulness not run"),
    ]
    meta_rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in meta)
    plots: Sequence[str] = (
        plot_decision_scores(report),
        plot_tradeoff(report),
        plot_faithfulness(report),
        plot_latency(report),
    )
    head = (
        "<tr><th>id</th><th>question</th><th>expected</th><th>outcome</th><th>answer</th><th>citations</th>"
        "<th class='num'>faithful<br><small>ragas</small></th><th class='num'>top</th><th class='num'>ms</th>"
        "<th>failed checks</th></tr>"
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Verity eval: {escape(run.dataset)}</title><style>{CSS}</style></head><body>"
        f"<h1>Verity eval</h1>{warnings}<table class='meta'>{meta_rows}</table>{_gate_section(gate)}"
        f"<h2>Metrics</h2>{_metrics_table(report, gate)}"
        f"<h2>Plots</h2><div class='plots'>{''.join(f'<figure>{p}</figure>' for p in plots)}</div>"
        f"<h2>Questions</h2><table>{head}{''.join(_question_row(q) for q in report.questions)}</table>"
        "</body></html>"
    )
