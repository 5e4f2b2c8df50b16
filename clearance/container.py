"""The composition root: builds every service from settings, in one place.

Nothing else constructs services or reads settings files; the CLI, the server and the
tests all start here.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearance import installation
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
from clearance.gateway.upstream import OpenAIUpstream
from clearance.identity.index import KeyIndex
from clearance.identity.models import KEYS_TOPIC, ORGS_TOPIC
from clearance.identity.services import ApiKeys, Operators, Organizations
from clearance.registry.models import TOPIC as MODELS_TOPIC
from clearance.registry.services import ModelCatalog, ModelRegistry
from clearance.settings import Settings
from clearance.usage.services import UsageQueries, UsageRecorder


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    audit: AuditLog
    tree: MerkleTree
    checkpoints: Checkpointer
    witnesses: Witnesses
    prover: Prover
    models: ModelRegistry
    catalog: ModelCatalog
    organizations: Organizations
    keys: ApiKeys
    key_index: KeyIndex
    operators: Operators
    usage: UsageQueries
    usage_recorder: UsageRecorder
    watcher: ChangeWatcher
    upstream: OpenAIUpstream

    async def start_serving(self) -> None:
        """Load the hot-path state and start the background tasks a server needs."""
        await self.watcher.check()
        self.usage_recorder.start()

    async def close(self) -> None:
        await self.usage_recorder.close()
        await self.upstream.close()
        await self.db.dispose()


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    secret = installation.read_server_secret(settings)
    signer = installation.read_log_signer(settings)
    db = Database(settings.effective_database_url, schema=settings.database_schema)
    audit = AuditLog(db, clock)
    tree = MerkleTree(db)
    checkpoints = Checkpointer(
        db,
        tree,
        signer,
        clock,
        settings.audit_checkpoint_entries,
        settings.audit_checkpoint_seconds,
    )
    models = ModelRegistry(db, audit, clock)
    catalog = ModelCatalog(models)
    key_index = KeyIndex(db, secret)
    watcher = ChangeWatcher(db, settings.state_refresh_interval)
    watcher.subscribe(MODELS_TOPIC, catalog.reload)
    watcher.subscribe(KEYS_TOPIC, key_index.reload)
    watcher.subscribe(ORGS_TOPIC, key_index.reload)
    return Services(
        settings=settings,
        clock=clock,
        db=db,
        audit=audit,
        tree=tree,
        checkpoints=checkpoints,
        witnesses=Witnesses(db, checkpoints, _witness_keys(settings), clock),
        prover=Prover(audit, tree, checkpoints),
        models=models,
        catalog=catalog,
        organizations=Organizations(db, audit, clock),
        keys=ApiKeys(db, audit, clock, secret),
        key_index=key_index,
        operators=Operators(db, audit, clock, secret),
        usage=UsageQueries(db),
        usage_recorder=UsageRecorder(db, audit),
        watcher=watcher,
        upstream=OpenAIUpstream(settings.upstream_connect_timeout, settings.upstream_read_timeout),
    )


def _witness_keys(settings: Settings) -> list[CosignatureVerifier]:
    keys = []
    for vkey in settings.audit_witnesses:
        try:
            keys.append(CosignatureVerifier.from_vkey(vkey))
        except NoteError as exc:
            raise SetupError(f"audit_witnesses: {vkey!r} is not a cosignature key: {exc}") from None
    return keys
