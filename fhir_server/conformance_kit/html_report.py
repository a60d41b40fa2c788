"""One self-contained HTML report a vendor can hand to a district (``--lang zh|en``): a summary per
capability, then every test; a failed test expands to its failed asserts with the request and
response (bodies shown, credentials masked).  No external files, scripts or fonts."""

from __future__ import annotations

import json
from html import escape

from fhir_server.conformance_kit.results import ERROR, FAIL, PASS, SKIP, WARNING, ActionResult, Exchange, ScriptResult

TEXT = {
    "en": {"title": "Jiayi IG conformance report", "target": "Target", "run": "Run", "date": "Date",
           "version": "Jiayi version", "fingerprint": "IG fingerprint", "verdict": "Verdict",
           "conformant": "CONFORMANT: every mandatory test passed",
           "not_conformant": "NOT CONFORMANT: mandatory tests failed",
           "summary": "Summary per capability", "actor": "Actor", "capability": "Capability",
           "script": "TestScript", "mandatory": "Mandatory", "passed": "Passed", "failed": "Failed",
           "skipped": "Skipped", "result": "Result", "yes": "yes", "no": "no", "source": "Enforces",
           "request": "Request", "response": "Response", "setup": "Setup", "setup_failed": "The setup failed:",
           "tests": "Tests", "no_response": "(no response)",
           PASS: "pass", FAIL: "fail", SKIP: "skipped", WARNING: "warning", ERROR: "error"},
    "zh": {"title": "家医实施指南一致性测试报告", "target": "被测系统", "run": "运行编号", "date": "日期",
           "version": "家医版本", "fingerprint": "实施指南指纹", "verdict": "结论",
           "conformant": "符合：全部必选测试通过", "not_conformant": "不符合：有必选测试未通过",
           "summary": "按能力汇总", "actor": "角色", "capability": "能力", "script": "测试脚本",
           "mandatory": "必选", "passed": "通过", "failed": "未通过", "skipped": "跳过", "result": "结果",
           "yes": "是", "no": "否", "source": "依据", "request": "请求", "response": "响应",
           "setup": "准备", "setup_failed": "准备步骤失败：", "tests": "测试", "no_response": "（无响应）",
           PASS: "通过", FAIL: "未通过", SKIP: "跳过", WARNING: "警告", ERROR: "错误"},
}

STYLE = """
body{font-family:system-ui,-apple-system,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2rem;color:#1d2329;
max-width:1100px}
h1{font-size:1.6rem;margin:0 0 .5rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.35rem .6rem;
text-align:left;vertical-align:top}th{background:#f3f5f7}
.meta td:first-child{width:12rem;color:#57606a}
.badge{display:inline-block;min-width:4.5rem;text-align:center;border-radius:1rem;padding:0 .6rem;font-size:.85rem;
font-weight:600;color:#fff}.badge.pass{background:#1a7f37}.badge.fail,.badge.error{background:#cf222e}
.badge.skip{background:#8c959f}.badge.warning{background:#bf8700}tr.fail td:first-child{border-left:4px solid #cf222e}
.verdict{font-size:1.1rem;font-weight:700;padding:.6rem 1rem;border-radius:.4rem;margin:1rem 0}
.verdict.ok{background:#dafbe1;color:#116329}.verdict.ko{background:#ffebe9;color:#a40e26}
details.test{border:1px solid #d0d7de;border-radius:.4rem;margin:.4rem 0;padding:.3rem .7rem}
details.test.fail{border-color:#cf222e}
summary{cursor:pointer}summary .id{font-family:ui-monospace,monospace;font-weight:600;margin:0 .5rem}
.source{color:#57606a;font-size:.9rem;margin:.4rem 0}
.failure{background:#fff8f8;border-left:3px solid #cf222e;padding:.4rem .7rem;margin:.5rem 0}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;max-height:24rem;font-size:.8rem;white-space:pre-wrap;
word-break:break-all}
ol.actions{font-size:.88rem;color:#424a53}
"""


def _badge(result: str, t: dict) -> str:
    return f'<span class="badge {escape(result)}">{escape(t.get(result, result))}</span>'


def _pretty(body: str | None) -> str:
    if not body:
        return ""
    try:
        return json.dumps(json.loads(body), ensure_ascii=False, indent=2)
    except ValueError:
        return body


def _exchange(exchange: Exchange | None, t: dict) -> str:
    if exchange is None:
        return ""
    headers = "\n".join(f"{k}: {v}" for k, v in exchange.request_headers.items())
    request = f"{exchange.method} {exchange.url}\n{headers}"
    if exchange.request_body:
        request += "\n\n" + _pretty(exchange.request_body)
    if exchange.error:
        response = exchange.error
    elif exchange.status is None:
        response = t["no_response"]
    else:
        response = f"HTTP {exchange.status}\n" + "\n".join(f"{k}: {v}" for k, v in exchange.response_headers.items())
        if exchange.response_body:
            response += "\n\n" + _pretty(exchange.response_body)
    return (f'<div class="exchange"><h4>{t["request"]}</h4><pre class="request">{escape(request)}</pre>'
            f'<h4>{t["response"]}</h4><pre class="response">{escape(response)}</pre></div>')


def _failure(a: ActionResult, t: dict) -> str:
    return (f'<div class="failure">{_badge(a.result, t)} <b>{escape(a.label)}</b>: {escape(a.message)}'
            f"{_exchange(a.exchange, t)}</div>")


def _actions(actions: list[ActionResult], t: dict) -> str:
    items = "".join(f"<li>{_badge(a.result, t)} {escape(a.kind)} <code>{escape(a.label)}</code> "
                    f"{escape(a.message[:300])}</li>" for a in actions)
    return f'<ol class="actions">{items}</ol>'


def _script(r: ScriptResult, lang: str, t: dict) -> str:
    out = [f'<section class="script" id="script-{escape(r.script_id)}"><h2>{escape(r.title[lang])} '
           f'{_badge(r.result, t)}</h2><p class="source">{t["script"]}: <code>{escape(r.url)}</code> · '
           f'{t["actor"]}: {escape(r.actor)} · {t["capability"]}: {escape(r.capability)} · '
           f'{t["mandatory"]}: {t["yes"] if r.mandatory else t["no"]}</p>']
    if r.setup_failed:
        out.append(f'<div class="setup"><b>{t["setup_failed"]}</b>')
        out += [_failure(a, t) for a in r.setup if a.result in (FAIL, ERROR)]
        out.append("</div>")
    for test in r.tests:
        result = FAIL if r.setup_failed else test.result
        out.append(f'<details class="test {result}" id="test-{escape(test.id)}" data-result="{result}">'
                   f'<summary>{_badge(result, t)}<span class="id">{escape(test.id)}</span>'
                   f"{escape(test.requirement[lang] or test.requirement['en'])}</summary>"
                   f'<div class="body"><p class="source">{t["source"]}: {escape(test.source)}</p>')
        out += [_failure(a, t) for a in test.failures]
        out.append(_actions(test.actions, t) + "</div></details>")
    out.append("</section>")
    return "".join(out)


def html_report(results: list[ScriptResult], *, lang: str, target: str, run_id: str, date: str, version: str,
                fingerprint: str, conformant: bool) -> str:
    t = TEXT[lang]
    rows = []
    for r in results:
        passed = sum(x.result == PASS for x in r.tests) if not r.setup_failed else 0
        failed = len(r.tests) - passed - sum(x.result == SKIP for x in r.tests) if not r.setup_failed else len(r.tests)
        skipped = len(r.tests) - passed - failed
        rows.append(f'<tr class="{r.result}"><td>{escape(r.actor)}</td><td>{escape(r.capability)}</td>'
                    f'<td><a href="#script-{escape(r.script_id)}">{escape(r.title[lang])}</a></td>'
                    f'<td>{t["yes"] if r.mandatory else t["no"]}</td><td>{passed}</td><td>{failed}</td>'
                    f"<td>{skipped}</td><td>{_badge(r.result, t)}</td></tr>")
    verdict = (f'<div class="verdict {"ok" if conformant else "ko"}" id="verdict">'
               f'{t["conformant"] if conformant else t["not_conformant"]}</div>')
    meta = "".join(f"<tr><td>{t[k]}</td><td><code>{escape(v)}</code></td></tr>" for k, v in (
        ("target", target), ("run", run_id), ("date", date), ("version", version), ("fingerprint", fingerprint)))
    return (f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{t["title"]}</title>'
            f"<style>{STYLE}</style></head><body><h1>{t['title']}</h1>"
            f'<table class="meta">{meta}</table>{verdict}<h2>{t["summary"]}</h2>'
            f'<table class="summary"><tr><th>{t["actor"]}</th><th>{t["capability"]}</th><th>{t["script"]}</th>'
            f'<th>{t["mandatory"]}</th><th>{t["passed"]}</th><th>{t["failed"]}</th><th>{t["skipped"]}</th>'
            f'<th>{t["result"]}</th></tr>{"".join(rows)}</table>'
            + "".join(_script(r, lang, t) for r in results) + "</body></html>")
