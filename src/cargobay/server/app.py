"""The composition root: everything the hub needs is built here and passed down."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from cargobay.config import Settings
from cargobay.metadata.accounts import AccountStore
from cargobay.metadata.catalogue import CatalogueStore
from cargobay.metadata.engine import create_engines
from cargobay.metadata.hub_listing import HubListingStore
from cargobay.metadata.store import MetadataStore
from cargobay.metadata.web_sessions import WebSessionStore
from cargobay.registry.access import AccessPolicy
from cargobay.registry.accounts import AccountService
from cargobay.registry.catalogue import CatalogueService
from cargobay.registry.hub_repositories import HubRepositories
from cargobay.registry.pulls import PullCounter
from cargobay.registry.search import SearchService
from cargobay.registry.service import RegistryService
from cargobay.registry.tokens import KeyRing, TokenIssuer
from cargobay.registry.web_sessions import WebSessions
from cargobay.server.api import add_api_routes
from cargobay.server.auth import RegistryAuth, RegistryGuard
from cargobay.server.client_address import TRUSTED_PROXIES_KEY, parse_networks
from cargobay.server.http import registry_errors
from cargobay.server.search_endpoint import SearchEndpoint
from cargobay.server.token_endpoint import TokenEndpoint
from cargobay.server.v2 import V2Api
from cargobay.server.web import add_web_routes
from cargobay.storage.filesystem import FilesystemBlobStore

SERVICE_KEY = web.AppKey("service", RegistryService)
MAX_FORM_BYTES = 1024 * 1024


@dataclass
class Hub:
    """The hub's services, shared by the HTTP server and the admin commands."""

    settings: Settings
    metadata: MetadataStore
    registry: RegistryService
    accounts: AccountService
    policy: AccessPolicy
    issuer: TokenIssuer
    catalogue: CatalogueService  # stars, descriptions, repository information
    search: SearchService
    repositories: HubRepositories  # the hub's repository pages: listings, tags, settings, deletion
    sessions: WebSessions  # the web site's log-ins

    async def close(self) -> None:
        await self.metadata.close()


def key_ring(settings: Settings) -> KeyRing:
    return KeyRing(settings.data_dir / "keys")


def build_hub(settings: Settings) -> Hub:
    url = settings.effective_database_url
    engines = create_engines(url)
    metadata = MetadataStore(engines, url, default_private=settings.default_visibility == "private")
    account_store = AccountStore(engines, metadata.fast)
    blobs = FilesystemBlobStore(settings.data_dir / "storage")
    registry = RegistryService(
        metadata,
        blobs,
        chunk_min_length=settings.chunk_min_length,
        tags_page_max=settings.tags_page_max,
        catalog_page_max=settings.catalog_page_max,
        delete_enabled=settings.delete_enabled,
    )
    accounts = AccountService(account_store, open_registration=settings.open_registration)
    issuer = TokenIssuer(
        key_ring(settings).load(create=False),
        issuer=settings.token_issuer,
        service=settings.token_service,
        lifetime=settings.token_lifetime,
    )
    policy = AccessPolicy(metadata, account_store)
    catalogue_store = CatalogueStore(engines)
    catalogue = CatalogueService(catalogue_store, policy)
    return Hub(
        settings,
        metadata,
        registry,
        accounts,
        policy,
        issuer,
        catalogue=catalogue,
        search=SearchService(catalogue_store, policy if settings.auth == "token" else None),
        repositories=HubRepositories(HubListingStore(engines), metadata, registry, policy, catalogue),
        sessions=WebSessions(accounts, WebSessionStore(engines)),
    )


def create_app(settings: Settings) -> web.Application:
    hub = build_hub(settings)
    app = web.Application(middlewares=[registry_errors], client_max_size=MAX_FORM_BYTES)
    app[SERVICE_KEY] = hub.registry
    app[TRUSTED_PROXIES_KEY] = parse_networks(settings.trusted_proxies)
    guard: RegistryGuard | None = None
    auth: RegistryAuth | None = None
    if settings.auth == "token":
        auth = RegistryAuth(hub.accounts, hub.issuer, public_url=settings.public_url)
        guard = RegistryGuard(auth, hub.policy)
        TokenEndpoint(hub.accounts, hub.policy, hub.issuer).add_routes(app)
    pulls = PullCounter(hub.catalogue.store)
    app.cleanup_ctx.append(pulls.running)  # flushes pull counts every second and at shutdown
    V2Api(hub.registry, guard, pulls).add_routes(app)
    SearchEndpoint(hub.search, auth).add_routes(app)
    add_api_routes(app, hub)
    add_web_routes(app, hub)  # last: it ends with the catch-all 404 page

    async def _close(_app: web.Application) -> None:
        await hub.close()

    app.on_cleanup.append(_close)
    return app
