"""The composition root: builds every service from settings, in one place.

Nothing else constructs services or reads settings files; the CLI, the server and the
tests all start here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

import structlog

from clearance import installation, ondemand
from clearance.accounts.logins import LoginPolicy, Logins
from clearance.accounts.operators import Operators
from clearance.accounts.passwords import Passwords
from clearance.audit.checkpoints import Checkpointer
from clearance.audit.proofs import Prover
from clearance.audit.services import AuditLog
from clearance.audit.tlog.keys import CosignatureVerifier
from clearance.audit.tlog.note import NoteError
from clearance.audit.tree import MerkleTree
from clearance.audit.witnesses import Witnesses
from clearance.clock import Clock, SystemClock
from clearance.db.changes import ChangeWatcher
from clearance.db.database import Database
from clearance.errors import SetupError
from clearance.identity.end_users import EndUsers
from clearance.identity.entitlements import EntitlementIndex, Entitlements
from clearance.identity.index import KeyIndex
from clearance.identity.keys import ApiKeys
from clearance.identity.members import Members, ServiceAccounts
from clearance.identity.models import (
    END_USERS_TOPIC,
    ENTITLEMENTS_TOPIC,
    KEYS_TOPIC,
    MEMBERS_TOPIC,
    ORGS_TOPIC,
)
from clearance.identity.organizations import Organizations
from clearance.limits.seeding import seed_quotas
from clearance.monitoring.alerts import Alerts
from clearance.monitoring.breakglass import BreakGlass
from clearance.monitoring.cases import Cases
from clearance.monitoring.enforcement_models import ENFORCEMENT_TOPIC
from clearance.monitoring.feed import ContentFeed
from clearance.monitoring.handoff import Handoff
from clearance.monitoring.retention import ContentStore, read_content_key
from clearance.monitoring.throttles import Throttles
from clearance.policy.authorizer import Authorizer
from clearance.policy.engine import load_schema
from clearance.policy.models import TOPIC as POLICIES_TOPIC
from clearance.policy.services import PolicyStore
from clearance.registry.jurisdictions import CountryTables, Jurisdictions
from clearance.registry.models import COUNTRY_TABLES_TOPIC
from clearance.registry.models import TOPIC as MODELS_TOPIC
from clearance.registry.services import ModelCatalog, ModelRegistry
from clearance.settings import Settings
from clearance.usage.recorder import UsageRecorder, usage_recorder
from clearance.usage.sealing import UsageSealer
from clearance.usage.services import UsageQueries

log = structlog.get_logger(__name__)


@dataclass
class Services:
    """Every service of an installation.

    The fields are built at once; the properties further down only when first used,
    with their modules: a command that lists organizations never loads NumPy, the
    screening lists' name matching or the SMTP client, and starts in half the time.
    A server builds them all before it serves (``start_serving``), so a bad setting
    still stops it at the start."""

    settings: Settings
    clock: Clock
    db: Database
    audit: AuditLog
    tree: MerkleTree
    checkpoints: Checkpointer
    witnesses: Witnesses
    prover: Prover
    logins: Logins
    operators: Operators
    models: ModelRegistry
    catalog: ModelCatalog
    organizations: Organizations
    members: Members
    service_accounts: ServiceAccounts
    end_users: EndUsers
    entitlements: Entitlements
    entitlement_index: EntitlementIndex
    country_tables: CountryTables
    jurisdictions: Jurisdictions
    policies: PolicyStore
    authorizer: Authorizer
    keys: ApiKeys
    key_index: KeyIndex
    cases: Cases
    break_glass: BreakGlass
    alerts: Alerts
    throttles: Throttles
    content_feed: ContentFeed
    """Texts for the monitor when it runs in this process."""
    handoff: Handoff
    """Texts for the monitor another process runs (``monitoring.handoff``)."""
    content_store: ContentStore
    usage: UsageQueries
    usage_recorder: UsageRecorder
    usage_sealer: UsageSealer
    watcher: ChangeWatcher
    server_secret: bytes = field(repr=False)
    """For the services built when first used."""

    async def start_serving(self) -> None:
        """Build every service, load the hot-path state and start the background tasks
        a server needs."""
        for name in LAZY:
            getattr(self, name)
        await self.usage_recorder.recover()  # what a killed server left unstored…
        await self.usage_sealer.seal()  # …and unsealed
        await self.watcher.check()
        await seed_quotas(
            self.db, self.limiter, self.entitlement_index, self.key_index, self.clock.now()
        )
        await self.watcher.check()  # fresh as serving begins, however long seeding took
        self.usage_recorder.start()

    async def close(self) -> None:
        if "notifier" in self.__dict__:  # only what was built has anything to finish
            await self.notifier.drain()
        await self.usage_recorder.close()
        try:
            await self.usage_sealer.seal()
        except Exception:  # shutting down: the next start seals what is left
            log.exception("usage_seal_failed_at_shutdown")
        if "upstreams" in self.__dict__:
            await self.upstreams.close()
        await self.db.dispose()

    # -- built when first used, by ``ondemand`` (which imports their modules only then)
    content_classifier = cached_property(ondemand.content_classifier)
    monitor = cached_property(ondemand.monitor)
    monitor_process = cached_property(ondemand.monitor_process)
    mailer = cached_property(ondemand.mailer)
    notifier = cached_property(ondemand.notifier)
    enforcement = cached_property(ondemand.enforcement)
    appeals = cached_property(ondemand.appeals)
    program = cached_property(ondemand.program)
    screening = cached_property(ondemand.screening)
    applications = cached_property(ondemand.applications)
    vetting_checks = cached_property(ondemand.vetting_checks)
    decisions = cached_property(ondemand.decisions)
    aftercare = cached_property(ondemand.aftercare)
    upstreams = cached_property(ondemand.upstreams)
    limiter = cached_property(ondemand.limiter)
    metrics = cached_property(ondemand.metrics)


LAZY = tuple(name for name, value in vars(Services).items() if isinstance(value, cached_property))
"""The services built when first used."""


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    secret = installation.read_server_secret(settings)
    signer = installation.read_log_signer(settings)
    db = Database(settings.effective_database_url, schema=settings.database_schema)
    audit = AuditLog(db, clock)
    recorder = usage_recorder(db, settings.data_dir / "usage-journal")
    sealer = UsageSealer(db, audit, recorder.flush)
    recorder.written = sealer.written
    tree = MerkleTree(db)
    checkpoints = Checkpointer(
        db,
        tree,
        signer,
        clock,
        settings.audit_checkpoint_entries,
        settings.audit_checkpoint_seconds,
    )
    logins = Logins(
        db,
        audit,
        clock,
        Passwords(
            settings.password_time_cost,
            settings.password_memory_kib,
            settings.password_parallelism,
        ),
        secret,
        LoginPolicy(
            session_ttl=timedelta(hours=settings.session_hours),
            max_failed=settings.max_failed_logins,
            lockout=timedelta(minutes=settings.lockout_minutes),
        ),
    )
    models = ModelRegistry(db, audit, clock)
    catalog = ModelCatalog(models)
    service_accounts = ServiceAccounts(db, audit, clock)
    end_users = EndUsers(db, audit, clock)
    key_index = KeyIndex(db, secret)
    cases = Cases(db, audit, clock)
    entitlements = Entitlements(db, audit, clock)
    entitlement_index = EntitlementIndex(entitlements)
    country_tables = CountryTables(db, audit, clock)
    jurisdictions = Jurisdictions(country_tables, settings.unknown_country_tier)
    policies = PolicyStore(db, audit, clock, load_schema())
    authorizer = Authorizer(
        policies, key_index, catalog, jurisdictions, entitlement_index, end_users, clock
    )
    watcher = ChangeWatcher(db, settings.state_refresh_interval)
    watcher.subscribe(MODELS_TOPIC, catalog.reload)
    for topic in (KEYS_TOPIC, ORGS_TOPIC, MEMBERS_TOPIC):
        watcher.subscribe(topic, key_index.reload)
    watcher.subscribe(END_USERS_TOPIC, end_users.reload)
    watcher.subscribe(ENTITLEMENTS_TOPIC, entitlement_index.reload)
    watcher.subscribe(COUNTRY_TABLES_TOPIC, jurisdictions.reload)
    throttles = Throttles(db)
    watcher.subscribe(ENFORCEMENT_TOPIC, throttles.reload)
    # The authorizer's entities are built from the views above: subscribed last.
    watcher.subscribe(POLICIES_TOPIC, authorizer.reload)
    # Country tables change tiers, which cached decisions depend on.
    for topic in (MODELS_TOPIC, KEYS_TOPIC, ORGS_TOPIC, MEMBERS_TOPIC, COUNTRY_TABLES_TOPIC):
        watcher.subscribe(topic, authorizer.refresh)
    organizations = Organizations(db, audit, clock)
    members = Members(db, audit, clock, logins)
    keys = ApiKeys(db, audit, clock, secret, service_accounts)
    content_key = read_content_key(settings.content_key_file, secret)
    content_store = ContentStore(db, content_key, secret)
    return Services(
        settings=settings,
        clock=clock,
        db=db,
        audit=audit,
        tree=tree,
        checkpoints=checkpoints,
        witnesses=Witnesses(db, checkpoints, _witness_keys(settings), clock),
        prover=Prover(audit, tree, checkpoints),
        logins=logins,
        operators=Operators(
            db, audit, clock, logins, secret, settings.token_days, settings.max_token_days
        ),
        models=models,
        catalog=catalog,
        organizations=organizations,
        members=members,
        service_accounts=service_accounts,
        end_users=end_users,
        entitlements=entitlements,
        entitlement_index=entitlement_index,
        country_tables=country_tables,
        jurisdictions=jurisdictions,
        policies=policies,
        authorizer=authorizer,
        keys=keys,
        key_index=key_index,
        cases=cases,
        break_glass=BreakGlass(db, audit, cases, content_store.lookup),
        alerts=Alerts(db, audit, clock, cases),
        throttles=throttles,
        content_feed=ContentFeed(),
        handoff=Handoff(db, content_key, clock),
        content_store=content_store,
        usage=UsageQueries(db, recorder.flush),
        usage_recorder=recorder,
        usage_sealer=sealer,
        watcher=watcher,
        server_secret=secret,
    )


def _witness_keys(settings: Settings) -> list[CosignatureVerifier]:
    keys = []
    for vkey in settings.audit_witnesses:
        try:
            keys.append(CosignatureVerifier.from_vkey(vkey))
        except NoteError as exc:
            raise SetupError(f"audit_witnesses: {vkey!r} is not a cosignature key: {exc}") from None
    return keys


async def purge_monitoring(services: Services) -> int:
    """Delete retained content past its model's time, texts handed over to the monitor
    that none took in time, and the monitor's per-request results (embeddings, terms)
    older than ``topic_days``; returns rows deleted."""
    from clearance.monitoring.summaries import purge_results  # noqa: PLC0415 (NumPy)

    now = services.clock.now()
    removed = await services.content_store.purge(now)
    removed += await services.handoff.purge()
    return removed + await purge_results(
        services.db, now - timedelta(days=services.settings.topic_days)
    )
