"""Rendering the report: one self-contained HTML page and its Markdown twin.

The HTML embeds every plot as a base64 PNG and carries its own CSS, so the
single file can be mailed, archived or opened offline.  Both documents put
the summary table first, then the comparisons, the lecture's table, the
figures (each with a one-line explanation) and the provenance.
"""

from __future__ import annotations

import base64
import html as _html
import math
from datetime import datetime, timezone

import yaml

from .comparison import markdown_table

CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2327;max-width:1080px;margin:2em auto;padding:0 1.2em}
h1{font-size:1.7em;margin-bottom:.1em}h2{margin-top:1.8em;border-bottom:2px solid #e3e6e8;padding-bottom:.2em}
.sub{color:#5a6570;margin-top:0}table{border-collapse:collapse;margin:.6em 0 1em;font-size:.92em}
th,td{padding:.35em .7em;border-bottom:1px solid #e3e6e8;text-align:left;vertical-align:top}
th{background:#f4f6f7}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.best td{background:#eef7ee}.tag{display:inline-block;padding:0 .45em;border-radius:.3em;font-size:.85em}
.inside{background:#dff3df}.outside{background:#fbe3e0}.diverged{background:#fbe3e0}
figure{margin:1.2em 0;padding:.6em;border:1px solid #e3e6e8;border-radius:.4em}
figure img{max-width:100%;height:auto;display:block;margin:auto}figcaption{color:#434c55;font-size:.92em;margin-top:.4em}
pre{background:#f4f6f7;padding:.8em;overflow-x:auto;font-size:.85em}ul.pairs li{margin:.2em 0}
details{margin:.6em 0}summary{cursor:pointer;font-weight:600}
"""

FIGURE_TITLES = {
    "summary_accuracy": "Test accuracy by topology",
    "validation_accuracy": "Validation accuracy by epoch",
    "training_cost": "Training cost by epoch",
    "per_class_accuracy": "Per-class accuracy",
    "confusion_matrix": "Confusion matrix of the best topology",
    "misclassified": "Misclassified test images",
    "network": "The trained network",
    "activations": "Activation functions",
}


def esc(x) -> str:
    """Text content (attribute values here are plain file stems)."""
    return _html.escape(str(x), quote=False)


def pct(x, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}"


def _summary_rows(ctx):
    rows = []
    best = None
    fin = ctx["summary"][ctx["summary"]["finished"] > 0]
    if len(fin):
        best = fin.sort_values("test_accuracy_mean", ascending=False).iloc[0]["topology"]
    for _, s in ctx["summary"].iterrows():
        if s["finished"] == 0:
            acc, ci, at_best = "diverged", "", ""
        else:
            acc = f"{pct(s['test_accuracy_mean'])} ± {pct(s['test_accuracy_std'])}"
            ci = f"{pct(s['test_accuracy_ci_low'])}–{pct(s['test_accuracy_ci_high'])}"
            at_best = f"{pct(s['best_val_test_accuracy_mean'])} (epoch ≈ {s['best_val_epoch_mean']:.0f})"
        note = f"{s['diverged']} diverged ({s['diverged_at']}); excluded from the mean" if s["diverged"] else ""
        rows.append(dict(topology=s["topology"], sizes=s["sizes"], params=f"{s['n_params']:,}",
                         seeds=f"{s['finished']}/{s['seeds']}", acc=acc, ci=ci, at_best=at_best,
                         time=f"{s['train_seconds_mean']:.1f}", note=note, best=s["topology"] == best))
    return rows


SUMMARY_HEADER = ["topology", "layer sizes", "parameters", "seeds finished",
                  "test accuracy % — final epoch, mean ± std", "95 % CI (t)",
                  "test accuracy % at the best validation epoch", "training s per job", "note"]


def _recipe(ctx) -> str:
    settings = ctx["settings"]
    first = next(iter(settings.values()), {})
    keys = ("activation", "output", "cost", "init", "eta", "batch_size", "epochs", "dtype")
    common = {k: first.get(k) for k in keys if all(s.get(k) == first.get(k) for s in settings.values())}
    parts = [f"{k} {v}" for k, v in common.items()]
    return ", ".join(parts)


def _img(path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{esc(path.stem)}" src="data:image/png;base64,{data}">'


def page(ctx) -> str:
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>mlpsweep report: {esc(ctx['dataset'])}</title>",
           f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>"]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out.append(f"<h1>Which network is better? {esc(ctx['dataset'])}</h1>")
    out.append(f"<p class='sub'>{esc(ctx['description'])} · {len(ctx['order'])} topologies × {len(ctx['seeds'])} seeds "
               f"({', '.join(map(str, ctx['seeds']))}) · {esc(_recipe(ctx))} · built {now} by mlpsweep</p>")
    if ctx["sections"]:
        out.append("<p>Studies: " + " · ".join(f"<a href='#study-{esc(x.name)}'>{esc(x.name)}</a>" for x in ctx["sections"]) + "</p>")
    if not ctx["order"]:
        out.append(_sections_html(ctx))
        out.append(_provenance_html(ctx))
        out.append("</body></html>")
        return "\n".join(out)

    out.append("<h2>Summary</h2><table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in SUMMARY_HEADER) + "</tr>")
    for r in _summary_rows(ctx):
        cls = " class='best'" if r["best"] else ""
        acc = "<span class='tag diverged'>diverged</span>" if r["acc"] == "diverged" else esc(r["acc"])
        out.append(f"<tr{cls}><td>{esc(r['topology'])}</td><td>{esc(r['sizes'])}</td><td class='num'>{r['params']}</td>"
                   f"<td class='num'>{r['seeds']}</td><td class='num'>{acc}</td><td class='num'>{esc(r['ci'])}</td>"
                   f"<td class='num'>{esc(r['at_best'])}</td><td class='num'>{r['time']}</td><td>{esc(r['note'])}</td></tr>")
    out.append("</table><p>The highlighted row has the highest mean. “Final epoch” is the network as trained; "
               "“best validation epoch” is the test accuracy each run had at the epoch where its validation accuracy "
               "peaked (the test set is never used to choose).</p>")

    out.append("<h2>Is the difference real?</h2><ul class='pairs'>")
    if len(ctx["pairs"]):
        out += [f"<li>{esc(s)}</li>" for s in ctx["pairs"]["sentence"]]
    else:
        out.append("<li>Only one topology finished: nothing to compare.</li>")
    out.append("</ul><p>Welch's t-test compares the final test accuracies over seeds (α = 0.05); McNemar's exact test "
               "compares the two median-seed models image by image on the same test set.</p>")

    out.append("<h2>The lecture's table</h2>")
    out.append(f"<p>{esc(ctx['lecture_note'])}</p><table><tr><th>layer sizes</th><th>the lecture</th>"
               "<th>this run (mean, final epoch)</th><th>within the stated range?</th><th>note</th></tr>")
    for sizes, stated, measured, inside, note in ctx["lecture"]:
        tag = f"<span class='tag {'inside' if inside == 'inside' else 'outside'}'>{esc(inside)}</span>" if inside else ""
        out.append(f"<tr><td>{esc(sizes)}</td><td>{esc(stated)}</td><td>{esc(measured)}</td><td>{tag}</td><td>{esc(note)}</td></tr>")
    out.append("</table>")
    if ctx["published"]:
        out.append("<details><summary>Other published results on this dataset</summary><table><tr><th>setup</th><th>accuracy</th><th>source</th></tr>")
        for p in ctx["published"]:
            acc = (f"{pct(p['accuracy'])} %" if "accuracy" in p else f"{pct(p['accuracy_range'][0], 1)}–{pct(p['accuracy_range'][1], 1)} %")
            out.append(f"<tr><td>{esc(p['setup'])}</td><td class='num'>{acc}</td><td>{esc(p['source'])}</td></tr>")
        out.append("</table></details>")

    out.append(_sections_html(ctx))
    out.append("<h2>Figures</h2>")
    for name, caption in ctx["figures"].items():
        path = ctx["plot_dir"] / f"{name}.png"
        out.append(f"<figure>{_img(path)}<figcaption><b>{esc(FIGURE_TITLES.get(name, name))}.</b> {esc(caption)}</figcaption></figure>")

    out.append(_provenance_html(ctx))
    out.append("</body></html>")
    return "\n".join(out)


def _table_html(header, rows) -> str:
    out = ["<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _sections_html(ctx) -> str:
    out = []
    for sec in ctx["sections"]:
        out.append(f"<h2 id='study-{esc(sec.name)}'>Study: {esc(sec.name)}</h2>")
        if sec.description:
            out.append(f"<p>{esc(sec.description)}</p>")
        if sec.claim:
            out.append(f"<p><b>The lecture's claim.</b> {esc(sec.claim)}</p>")
        if sec.verdict:
            cls = "inside" if sec.verdict.startswith("Supported") else "outside"
            out.append(f"<p><b>Verdict.</b> <span class='tag {cls}'>{esc(sec.verdict.split(':')[0])}</span> {esc(sec.verdict.split(':', 1)[-1])}</p>")
        if sec.rows:
            out.append(_table_html(sec.header, sec.rows))
        if sec.findings:
            out.append("<ul>" + "".join(f"<li>{esc(f)}</li>" for f in sec.findings) + "</ul>")
        for name, caption in sec.figures.items():
            path = ctx["plot_dir"] / f"{name}.png"
            out.append(f"<figure>{_img(path)}<figcaption>{esc(caption)}</figcaption></figure>")
    return "\n".join(out)


def _provenance_html(ctx) -> str:
    p = ctx["provenance"]
    out = ["<h2>Provenance</h2><table>"]
    versions = ", ".join(f"{k} {v}" for k, v in (p["versions"] or {}).items() if v)
    out.append(f"<tr><th>software (report)</th><td>{esc(versions)}</td></tr>")
    if p.get("training_versions"):
        tv = ", ".join(f"{k} {v}" for k, v in p["training_versions"].items() if v)
        out.append(f"<tr><th>software (training)</th><td>{esc(tv)}</td></tr>")
    blas = "; ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}), {b.get('num_threads')} thread(s)"
                     for b in (p.get("blas") or []))
    if blas:
        out.append(f"<tr><th>BLAS, threads per training job</th><td>{esc(blas)}; {esc(p.get('threads'))}</td></tr>")
    out.append(f"<tr><th>git commit</th><td>{esc(p.get('git_commit') or 'not a git checkout')}</td></tr>")
    m = p["machine"]
    out.append(f"<tr><th>machine</th><td>{esc(m['system'])} {esc(m['release'])}, {esc(m['machine'])}, {esc(m['node'])}</td></tr>")
    for role, f in p["dataset_sources"].items():
        out.append(f"<tr><th>{esc(role)}</th><td>{esc(f['name'])}: content sha256 <code>{esc(f['sha256'])}</code>, {f['bytes']:,} bytes</td></tr>")
    for name, f in p["dataset_files"].items():
        out.append(f"<tr><th>preprocessed {esc(name)}</th><td>sha256 <code>{esc(f['sha256'])}</code></td></tr>")
    out.append(f"<tr><th>report built in</th><td>{ctx['seconds']:.1f} s</td></tr></table>")
    bench = ctx["bench"]
    if not len(bench):
        return "\n".join(out)
    out.append("<details><summary>Wall time and memory of every training job</summary><table><tr>"
               + "".join(f"<th>{esc(c)}</th>" for c in bench.columns) + "</tr>")
    for _, r in bench.iterrows():
        out.append("<tr>" + "".join(f"<td>{esc(_fmt(v))}</td>" for v in r.tolist()) + "</tr>")
    out.append("</table></details>")
    if p.get("config") is not None:
        out.append(f"<details><summary>Configuration</summary><pre>{esc(yaml.safe_dump(p['config'], sort_keys=False))}</pre></details>")
    return "\n".join(out)


def _fmt(v) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.2f}"
    return str(v)


def _sections_md(ctx) -> list[str]:
    out = []
    for sec in ctx["sections"]:
        out.append(f"\n## Study: {sec.name}\n")
        if sec.description:
            out.append(sec.description + "\n")
        if sec.claim:
            out.append(f"**The lecture's claim.** {sec.claim}\n")
        if sec.verdict:
            out.append(f"**Verdict.** {sec.verdict}\n")
        if sec.rows:
            out.append(markdown_table(sec.header, sec.rows))
        out += [f"- {f}" for f in sec.findings]
        for name, caption in sec.figures.items():
            out.append(f"\n![{name}](plots/{name}.png)\n\n{caption}\n")
    return out


def markdown(ctx) -> str:
    out = [f"# Which network is better? {ctx['dataset']}\n",
           f"{ctx['description']}. {len(ctx['order'])} topologies × {len(ctx['seeds'])} seeds; {_recipe(ctx)}.\n"]
    if not ctx["order"]:
        return "\n".join(out + _sections_md(ctx)) + "\n"
    out.append("## Summary\n")
    rows = [[r["topology"], r["sizes"], r["params"], r["seeds"], r["acc"], r["ci"], r["at_best"], r["time"], r["note"]]
            for r in _summary_rows(ctx)]
    out.append(markdown_table(SUMMARY_HEADER, rows))
    out.append("\n## Is the difference real?\n")
    out += [f"- {s}" for s in ctx["pairs"]["sentence"]] if len(ctx["pairs"]) else ["- Only one topology finished."]
    out.append("\n## The lecture's table\n")
    out.append(ctx["lecture_note"] + "\n")
    out.append(markdown_table(["layer sizes", "the lecture", "this run", "within the range?", "note"], ctx["lecture"]))
    out += _sections_md(ctx)
    out.append("\n## Figures\n")
    for name, caption in ctx["figures"].items():
        out.append(f"![{FIGURE_TITLES.get(name, name)}](plots/{name}.png)\n\n{caption}\n")
    p = ctx["provenance"]
    out.append("## Provenance\n")
    out.append("- software: " + ", ".join(f"{k} {v}" for k, v in (p["versions"] or {}).items() if v))
    out.append(f"- git commit: {p.get('git_commit') or 'not a git checkout'}")
    for role, f in p["dataset_sources"].items():
        out.append(f"- {role}: {f['name']}, content sha256 `{f['sha256']}`")
    return "\n".join(out) + "\n"
