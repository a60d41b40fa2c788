"""The console's routes: who is signed in, which view model, which template."""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
from functools import wraps

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException

from fhir_server.console import dev_login, i18n, signin
from fhir_server.console.fhir_client import FhirClient
from fhir_server.console.views import dashboard, desk, monitor, resident, search, worklist


def blueprint() -> Blueprint:
    bp = Blueprint("console", __name__, template_folder="templates", static_folder="static/console",
                   static_url_path="/static")

    @bp.before_request
    def _language() -> None:
        if request.args.get("lang") in i18n.LANGUAGES:
            session["lang"] = request.args["lang"]
        g.lang = session.get("lang", "zh")
        g.t = i18n.words(g.lang)
        g.user = signin.current()
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(24)
        if request.method == "POST" and request.endpoint not in ("console.dev_token",) \
                and request.form.get("csrf") != session["csrf"]:
            abort(400, "The form is stale (CSRF check); reload the page")

    @bp.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Cache-Control", "no-store" if response.mimetype == "text/html" else "max-age=3600")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data: blob:; "
                                                       "style-src 'self' 'unsafe-inline'")
        return response

    def signed_in(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if g.user is None:
                return redirect(url_for("console.login", next=request.full_path))
            return view(*args, **kwargs)
        return wrapper

    @bp.get("/")
    @signed_in
    def home():
        if g.user.region:
            return redirect(url_for("console.dashboard_page"))
        if "system/" in g.user.scope:
            return redirect(url_for("console.monitor_page"))
        return redirect(url_for("console.worklist_page"))

    @bp.get("/login")
    def login():
        if request.args.get("go") or current_app.extensions["jiayi.authenticator"].development:
            return signin.start(_safe_next(request.args.get("next")))
        return render_template("console/login.html", next=_safe_next(request.args.get("next")),
                               dev=current_app.extensions.get("jiayi.console.dev_login"))

    @bp.get("/callback")
    def callback():
        return signin.finish()

    @bp.post("/logout")
    def logout():
        session.pop("user", None)
        return redirect(url_for("console.login"))

    @bp.route("/dev-login/authorize", methods=["GET", "POST"])
    def dev_authorize():
        _dev_only()
        return dev_login.authorize()

    @bp.post("/dev-login/token")
    def dev_token():
        _dev_only()
        return dev_login.token()

    @bp.get("/worklist")
    @signed_in
    def worklist_page():
        model = worklist.build(client(), g.user.practitioner, dt.date.today())
        return render_template("console/worklist.html", model=model)

    @bp.post("/contracts/<contract_id>/renew")
    @signed_in
    def renew(contract_id: str):
        answer = client().post(f"Contract/{contract_id}/$renew", {"resourceType": "Parameters"})
        if answer.ok:
            flash(f"{g.t['renewed']}: Contract/{(answer.resource or {}).get('id')}", "ok")
        else:
            flash(answer.message(), "error")
        return redirect(_safe_next(request.form.get("next")) or url_for("console.worklist_page"))

    @bp.get("/residents/<patient_id>")
    @signed_in
    def resident_page(patient_id: str):
        model = resident.build(client(), patient_id, dt.date.today(), show_id=request.args.get("show") == "id")
        if model is None:
            abort(404, g.t["no_access"])
        return render_template("console/resident.html", model=model)

    @bp.get("/search")
    @signed_in
    def search_page():
        q = (request.args.get("q") or "").strip()
        return render_template("console/search.html", q=q, rows=search.residents(client(), q) if q else [])

    @bp.get("/desk")
    @signed_in
    def desk_page():
        model = desk.build(client(), dt.datetime.now(dt.UTC), g.user.practitioner)
        return render_template("console/desk.html", model=model)

    @bp.post("/referrals/<task_id>/<action>")
    @signed_in
    def referral_action(task_id: str, action: str):
        answer = desk.act(client(), task_id, action, request.form.get("reason") or "")
        flash(answer.message() if not answer.ok else f"{g.t.get(action, action)} ✓", "ok" if answer.ok else "error")
        return redirect(url_for("console.desk_page"))

    @bp.get("/dashboard")
    @signed_in
    def dashboard_page():
        query = dashboard.Query.from_args(request.args, dt.date.today())
        return render_template("console/dashboard.html", measures=dashboard.measures(client()), query=query)

    @bp.get("/dashboard/cards/<measure_id>")
    @signed_in
    def dashboard_card(measure_id: str):
        """One Measure's card (an HTML fragment the dashboard page fetches for each Measure)."""
        query = dashboard.Query.from_args(request.args, dt.date.today())
        card = dashboard.one_card(client(), measure_id, query)
        if card is None:
            abort(404, g.t["no_access"])
        return render_template("console/_card.html", c=card, query=query)

    @bp.get("/dashboard/cards/<measure_id>/previous")
    @signed_in
    def dashboard_previous(measure_id: str):
        """A card's comparison with the period before (a text fragment)."""
        card = dashboard.with_previous(client(), measure_id, dashboard.Query.from_args(request.args, dt.date.today()))
        if card is None:
            abort(404, g.t["no_access"])
        return render_template("console/_previous.html", c=card)

    @bp.get("/dashboard/subjects")
    @signed_in
    def dashboard_subjects():
        query = dashboard.Query.from_args(request.args, dt.date.today())
        measure = request.args.get("measure") or ""
        rows = dashboard.subjects(client(), query, measure)
        page = max(0, request.args.get("page", 0, type=int))
        shown = rows[page * dashboard.PAGE:(page + 1) * dashboard.PAGE]
        return render_template("console/subjects.html", query=query, measure=measure, rows=rows, shown=shown,
                               names=dashboard.subject_names(client(), shown), page=page,
                               more=len(rows) > (page + 1) * dashboard.PAGE)

    @bp.get("/dashboard.csv")
    @signed_in
    def dashboard_csv():
        query = dashboard.Query.from_args(request.args, dt.date.today())
        model = dashboard.build(client(), query)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["measure", "title", "stratum", "numerator", "denominator", "score"])
        for card in model.cards:
            for row in card.rows:
                writer.writerow([card.id, card.title, row.stratum, row.numerator, row.denominator, row.score])
        name = f"jiayi-measures-{query.start}-{query.end}.csv"
        return Response("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @bp.get("/monitor")
    @signed_in
    def monitor_page():
        return render_template("console/monitor.html", model=monitor.build(client()))

    @bp.errorhandler(dashboard.NotYet)
    def _evaluating(_: dashboard.NotYet):
        """A card whose summary the server is evaluating: 202, and the page asks again."""
        return g.t["evaluating"], 202, {"Retry-After": str(EVALUATING_RETRY_SECONDS)}

    @bp.errorhandler(HTTPException)
    def _error(error: HTTPException):
        status = error.code or 500
        return render_template("console/error.html", status=status, message=error.description), status

    @bp.app_template_global()
    def csrf_token() -> str:
        return session.get("csrf", "")

    return bp


EVALUATING_RETRY_SECONDS = 1  # a dashboard card waiting for its summary asks again this often


def client() -> FhirClient:
    user = g.user
    return FhirClient(current_app.extensions["jiayi.router"], current_app.extensions["jiayi.authenticator"],
                      user.token if user else None, signin.fhir_base(), request.remote_addr,
                      current_app.extensions.get("jiayi.console.at_once", False))


def _dev_only() -> None:
    if not current_app.extensions.get("jiayi.console.dev_login"):
        abort(404)


def _safe_next(value: str | None) -> str:
    """Only a path of the console itself (no open redirect)."""
    if value and value.startswith("/console") and not value.startswith("//"):
        return value
    return url_for("console.home")
