"""The application factory: the one place that wires the parts together (STYLE habit 1)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from fhir_server import api, console, familydoctor, subscriptions
from fhir_server.api import bulk as bulk_api
from fhir_server.api import subscription_socket
from fhir_server.auth import Authenticator, smart
from fhir_server.bulk.files import ExportFolder
from fhir_server.bulk.jobs import JobStore
from fhir_server.bulk.operation import ExportOperation
from fhir_server.config import Settings
from fhir_server.core.clock import Clock, IdFactory, system_clock, uuid_ids
from fhir_server.interactions import implementation_guide
from fhir_server.interactions.audit import AuditTrail
from fhir_server.interactions.router import Router
from fhir_server.operations import search_operations
from fhir_server.operations import terminology as terminology_operations
from fhir_server.operations import validate as validate_operation
from fhir_server.operations.capabilities import capability_statement
from fhir_server.operations.registry import OperationRegistry
from fhir_server.operations.reindex_job import BackgroundReindex
from fhir_server.repository.base import Repository
from fhir_server.repository.sql import SqlRepository
from fhir_server.search import cost as search_cost
from fhir_server.storage.db import Database
from fhir_server.storage.migrate import upgrade
from fhir_server.validation import Validator, ig
from fhir_server.validation.on_write import write_validation


def create_app(overrides: dict | None = None, *, repository: Repository | None = None,
               clock: Clock = system_clock, ids: IdFactory = uuid_ids) -> Flask:
    """``create_app({"DATABASE_URL": ..., "TESTING": True})``; tests may pass a repository twin."""
    settings = Settings.from_env().with_overrides(overrides or {})
    app = Flask("jiayi")
    app.config["JIAYI"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["TESTING"] = settings.testing
    search_cost.configure(max_included=settings.max_included)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if repository is None:
        database = Database(settings.database_url)
        if settings.migrate_on_start:
            upgrade(database.engine)
        repository = SqlRepository(database, clock=clock, ids=ids)
        app.extensions["jiayi.database"] = database
    app.extensions["jiayi.repository"] = repository
    validator = Validator(ig.conformance(settings.profiles_dir), strict=settings.validation == "strict")
    app.extensions["jiayi.validator"] = validator
    notifier = subscriptions.Subscriptions.from_settings(repository, settings) \
        if "jiayi.database" in app.extensions else None  # the outbox lives in the database
    app.extensions["jiayi.subscriptions"] = notifier  # serving starts its delivery thread
    install_write_hooks(repository, validator, notifier)
    # an injected twin (tests) gets the IG only when asked, so its clock and ids stay the test's
    if settings.load_ig and ("jiayi.database" in app.extensions or (overrides or {}).get("LOAD_IG")):
        implementation_guide.install(repository)
    # a database's $reindex runs in the background; the in-memory twin's costs nothing, so it answers at once
    reindex = BackgroundReindex(repository) if "jiayi.database" in app.extensions else None
    app.extensions["jiayi.reindex"] = reindex
    # Bulk Data $export: job rows in the database, run by the background runners (fhir_server.background)
    export = ExportOperation(JobStore(app.extensions["jiayi.database"]), settings) if reindex is not None else None
    # whole-district summaries a caller accepts older (Cache-Control: max-age), refreshed in the background
    kept = None if reindex is None else familydoctor.measures.KeptReports(repository, familydoctor.measures.evaluate)
    app.extensions["jiayi.kept_reports"] = kept
    if kept is not None:
        app.extensions["jiayi.database"].closing.append(kept.stop)
    operations = build_operations(validator, reindex, export, kept)
    app.extensions["jiayi.operations"] = operations
    published = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    authenticator = Authenticator.from_settings(settings)
    security = None if authenticator.development else smart.rest_security(settings)
    trail = AuditTrail(repository) if settings.audit == "on" or (
        settings.audit == "auto" and not authenticator.development) else None
    app.extensions["jiayi.audit"] = trail
    if trail is not None and "jiayi.database" in app.extensions:
        app.extensions["jiayi.database"].closing.append(trail.close)

    def metadata(request) -> dict:
        with repository.unit_of_work() as uow:  # the SearchParameters stored in this server are listed too
            search_params = uow.search_params()
        websocket = subscription_socket.url(request.base_url) if notifier is not None else None
        return capability_statement(request.base_url, operations, published, security, search_params, websocket)

    router = Router(repository, operations, metadata, trail)
    app.extensions["jiayi.router"] = router
    api.register(app, router, authenticator)
    if export is not None:
        bulk_api.register(app, router, export.store, ExportFolder(settings.export_dir))
    if notifier is not None:
        subscription_socket.register(app, notifier.hub, router, authenticator)
    # the console's screens ask their independent searches together where the database has processes of its own
    app.extensions["jiayi.console.at_once"] = ("jiayi.database" in app.extensions and
                                               app.extensions["jiayi.database"].engine.dialect.name == "postgresql")
    console.register(app)  # the web console under /console, a client of the API above
    return app


def install_write_hooks(repository: Repository, validator: Validator | None = None,
                        notifier: subscriptions.Subscriptions | None = None) -> None:
    """Profile validation and the domain rules run inside every write transaction (once per repository)."""
    hooks = getattr(repository, "hooks", None)
    if hooks is None or getattr(hooks, "installed", False):
        return
    if validator is not None:
        hooks.validate = write_validation(validator)
    familydoctor.install(hooks)
    if notifier is not None:
        notifier.install(hooks)
    hooks.installed = True


def build_operations(validator: Validator | None = None, reindex: BackgroundReindex | None = None,
                     export: ExportOperation | None = None,
                     kept: familydoctor.measures.KeptReports | None = None) -> OperationRegistry:
    """Every operation; with ``reindex``, ``$reindex`` at type and system level runs in the background."""
    registry = OperationRegistry()
    validator = validator or Validator(ig.conformance())
    searches = [op for op in search_operations.OPERATIONS if reindex is None or op.name != "reindex"]
    if reindex is not None:
        searches.append(reindex.operation())
    for operation in [*validate_operation.operations(validator), *searches,
                      *terminology_operations.OPERATIONS, *familydoctor.operations(kept),
                      *(export.operations() if export is not None else ())]:
        registry.register(operation)
    return registry
