"""Charts for the web pages (PNG/SVG) and the one-page patient PDF, drawn with matplotlib's
Agg/PDF backends on the server from the same trend data the API returns."""

from __future__ import annotations

import io
import logging
import textwrap
import warnings
from datetime import datetime, timedelta
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot-free figure creation
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from backend.reports.stats import mean_or_none
from backend.therapy.models import EMOTIONS

matplotlib.rcParams["pdf.fonttype"] = 42  # TrueType in PDFs keeps the text extractable
matplotlib.rcParams["svg.fonttype"] = "none"
# fontTools logs every font subset it writes into a PDF at INFO level.
logging.getLogger("fontTools").setLevel(logging.WARNING)
# A name or title in a script the bundled font lacks is drawn as boxes; that is not news.
warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)

EMOTION_COLOURS = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#f2b701",
    "sad": "#1f77b4",
    "surprise": "#ff7f0e",
    "neutral": "#a0a0a0",
}


MAX_SUMMARY_LINES = 11  # what fits above the first chart
DISCLAIMER = (
    "Figures describe facial expressions detected during sessions and the patient's own "
    "check-ins; they are observations, not a diagnosis."
)


MAX_SUMMARY_LINES = 11  # what fits above the first chart
DISCLAIMER = (
    "Figures describe facial expressions detected during sessions and the patient's own "
    "check-ins; they are observations, not a diagnosis."
)


def _x(trend: dict[str, Any]) -> list[datetime]:
    """Bucket midpoints, so points and bars sit in the middle of their day/week/month."""
    out = []
    for b in trend["buckets"]:
        start, end = datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"])
        out.append(start + (end - start) / 2)
    return out


def draw_mood(ax: Any, trend: dict[str, Any]) -> None:
    xs = _x(trend)
    for axis, colour in (("valence", "#2a7ab0"), ("arousal", "#c4513a")):
        pts = [
            (x, b[axis]["mean"], b[axis]["sd"] or 0.0)
            for x, b in zip(xs, trend["buckets"], strict=True)
            if b[axis]["mean"] is not None
        ]
        if not pts:
            continue
        px, mean, sd = zip(*pts, strict=True)
        ax.plot(px, mean, marker="o", markersize=3, color=colour, label=f"{axis} (detected)")
        ax.fill_between(
            px,
            [m - s for m, s in zip(mean, sd, strict=True)],
            [m + s for m, s in zip(mean, sd, strict=True)],
            color=colour,
            alpha=0.15,
        )
    reported = [
        (x, b["self_reported"]["valence"])
        for x, b in zip(xs, trend["buckets"], strict=True)
        if b["self_reported"]["valence"] is not None
    ]
    if reported:
        rx, rv = zip(*reported, strict=True)
        ax.plot(
            rx,
            rv,
            linestyle="--",
            marker="s",
            markersize=3,
            color="#2a7ab0",
            alpha=0.7,
            label="valence (self-reported)",
        )
    ax.axhline(0, color="#666", linewidth=0.5)
    ax.set_ylim(-1, 1)
    ax.set_ylabel("mean ± sd")
    ax.set_title(f"Mood per {trend['bucket']} ({trend['tz']})", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")


def draw_emotions(ax: Any, trend: dict[str, Any]) -> None:
    xs = _x(trend)
    width = (xs[1] - xs[0]).days * 0.8 if len(xs) > 1 else 0.8
    bottom = [0.0] * len(xs)
    for e in EMOTIONS:
        share = [b["emotion_share"][e] or 0.0 for b in trend["buckets"]]
        ax.bar(xs, share, width=width, bottom=bottom, color=EMOTION_COLOURS[e], label=e)
        bottom = [a + b for a, b in zip(bottom, share, strict=True)]
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of readings")
    ax.set_title("Top emotion per reading", fontsize=10)
    ax.legend(fontsize=6, ncol=7, loc="upper center", bbox_to_anchor=(0.5, -0.15))


def draw_change(ax: Any, sessions: list[dict[str, Any]]) -> None:
    rated = [s for s in sessions if s["change"]["valence"] is not None]
    xs = [datetime.fromisoformat(s["started_at"]) for s in rated]
    ys = [s["change"]["valence"] for s in rated]
    ax.bar(xs, ys, width=0.8, color=["#2ca02c" if y >= 0 else "#d62728" for y in ys])
    ax.axhline(0, color="#666", linewidth=0.5)
    ax.set_ylabel("end - start valence")
    ax.set_title("Change within each session", fontsize=10)


def trend_chart(trend: dict[str, Any], fmt: str) -> bytes:
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    mood_ax, emo_ax = fig.subplots(2, 1, sharex=True)
    draw_mood(mood_ax, trend)
    draw_emotions(emo_ax, trend)
    out = io.BytesIO()
    fig.savefig(out, format=fmt, dpi=110)
    return out.getvalue()


def patient_pdf(
    *,
    patient: Any,
    trend: dict[str, Any],
    sessions: list[dict[str, Any]],
    generated_at: datetime,
    what_works: dict[str, Any],
) -> bytes:
    """Two A4 pages: the mood report, then what works for this patient (music responses)."""
    name = patient.get_full_name() or patient.username
    out = io.BytesIO()
    metadata = {"Title": f"Mood report: {name}", "Creator": "MoodTune"}
    with PdfPages(out, metadata=metadata) as pdf:
        pdf.savefig(
            patient_page(patient=patient, trend=trend, sessions=sessions, generated_at=generated_at)
        )
        pdf.savefig(what_works_page(name=name, what_works=what_works))
    return out.getvalue()


GOAL_TITLES = {"calm": "Calmer", "uplift": "Brighter mood", "energise": "More energy"}


def what_works_lines(what_works: dict[str, Any]) -> list[str]:
    """The "what works" summary in words: per goal, features and tracks with 90% intervals."""
    lines = [
        f"Measured track responses: {what_works['measured_stretches']} over "
        f"{what_works['sessions']} session(s). Learning is "
        f"{'on' if what_works['learning_enabled'] else 'switched off'} for this patient.",
    ]
    for goal, title in GOAL_TITLES.items():
        block = what_works["goals"][goal]
        lines += ["", f"{title}:"]
        clear = [f for f in block["features"] if f["clear"]]
        if not block["features"]:
            lines.append("  No measured responses yet.")
            continue
        for f in clear or block["features"][:2]:
            lo, hi = f["interval90"]
            lines.append(
                f"  • {f['words']} tracks: {abs(f['effect']):.3f} per track "
                f"(90% interval {lo:+.3f} to {hi:+.3f}){'' if f['clear'] else ', not yet clear'}"
            )
        for t in block["tracks"][:3]:
            lo, hi = t["interval90"]
            track = t["track"]
            lines.append(
                f"  ♪ {track['title'] or '(untitled)'} — {track['artist'] or '?'}: "
                f"{t['progress']:+.3f} toward the goal (90% interval {lo:+.3f} to {hi:+.3f}; "
                f"{t['plays']} play(s), {t['sessions']} session(s))"
            )
    return lines


def what_works_page(*, name: str, what_works: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(8.27, 11.69))
    fig.text(0.06, 0.965, f"What works for {name}", fontsize=16, weight="bold")
    body = []
    for line in what_works_lines(what_works):
        body += textwrap.wrap(line, 105, subsequent_indent="      ") or [""]
    fig.text(0.06, 0.94, "\n".join(body[:70]), fontsize=8.5, va="top", linespacing=1.5)
    fig.text(
        0.06,
        0.03,
        "\n".join(textwrap.wrap(what_works["notice"], 140)),
        fontsize=7,
        color="#555",
    )
    return fig


def patient_page(
    *, patient: Any, trend: dict[str, Any], sessions: list[dict[str, Any]], generated_at: datetime
) -> Figure:
    """One A4 page: header, figures in words, flags, and three charts."""
    fig = Figure(figsize=(8.27, 11.69))
    name = patient.get_full_name() or patient.username
    fig.text(0.06, 0.965, f"Mood report: {name}", fontsize=16, weight="bold")
    last_day = (datetime.fromisoformat(trend["end"]) - timedelta(days=1)).date()
    header = (
        f"Period {trend['start'][:10]} to {last_day} ({trend['tz']}), "
        f"per {trend['bucket']}. Generated {generated_at:%Y-%m-%d %H:%M} UTC."
    )
    fig.text(0.06, 0.945, header, fontsize=8)
    lines = _summary_lines(trend, sessions)
    fig.text(0.06, 0.93, "\n".join(lines), fontsize=8.5, va="top", linespacing=1.5)
    fig.text(0.06, 0.015, DISCLAIMER, fontsize=6.5, color="#555")
    mood_ax = fig.add_axes((0.09, 0.51, 0.86, 0.25))
    emo_ax = fig.add_axes((0.09, 0.29, 0.86, 0.16), sharex=mood_ax)
    change_ax = fig.add_axes((0.09, 0.06, 0.86, 0.16), sharex=mood_ax)
    draw_mood(mood_ax, trend)
    draw_emotions(emo_ax, trend)
    draw_change(change_ax, sessions)
    for ax in (mood_ax, emo_ax, change_ax):
        ax.tick_params(labelsize=7)
    return fig


def _fmt(value: float | None, spec: str = "+.2f") -> str:
    return "n/a" if value is None else format(value, spec)


def _summary_lines(trend: dict[str, Any], sessions: list[dict[str, Any]]) -> list[str]:
    readings = sum(b["readings"] for b in trend["buckets"])
    weighted = [
        (b["valence"]["mean"], b["arousal"]["mean"], b["readings"])
        for b in trend["buckets"]
        if b["readings"]
    ]
    mean_v = sum(v * n for v, _, n in weighted) / readings if readings else None
    mean_a = sum(a * n for _, a, n in weighted) / readings if readings else None
    changes = [s["change"]["valence"] for s in sessions if s["change"]["valence"] is not None]
    slope = trend["trend"]["valence"]
    trend_text = "not enough sessions for a trend estimate"
    if slope["slope"] is not None:
        lo, hi = slope["ci95"]
        trend_text = (
            f"{slope['slope']:+.3f} per week (95% CI {lo:+.3f} to {hi:+.3f}, {slope['n']} sessions)"
        )
    lines = [
        f"Sessions: {len(sessions)}   Readings analysed: {readings:,}",
        f"Mean detected valence {_fmt(mean_v)}, arousal {_fmt(mean_a)}",
        f"Mean change within sessions (end - start valence): {_fmt(mean_or_none(changes))}",
        f"Valence trend: {trend_text}",
        "Observations:" if trend["flags"] else "Observations: none",
    ]
    for flag in trend["flags"]:
        lines += textwrap.wrap(flag["text"], 110, initial_indent="  • ", subsequent_indent="    ")
    return lines[:MAX_SUMMARY_LINES]
