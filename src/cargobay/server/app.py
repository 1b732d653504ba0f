"""The composition root: everything the hub needs is built here and passed down."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from cargobay.config import Settings
from cargobay.metadata.engine import create_engines
from cargobay.metadata.store import MetadataStore
from cargobay.registry.service import RegistryService
from cargobay.server.http import registry_errors
from cargobay.server.v2 import V2Api
from cargobay.storage.filesystem import FilesystemBlobStore

SERVICE_KEY = web.AppKey("service", RegistryService)


@dataclass
class Hub:
    settings: Settings
    metadata: MetadataStore
    registry: RegistryService


def build_hub(settings: Settings) -> Hub:
    metadata = MetadataStore(create_engines(settings.effective_database_url), settings.effective_database_url)
    blobs = FilesystemBlobStore(settings.data_dir / "storage")
    registry = RegistryService(
        metadata,
        blobs,
        chunk_min_length=settings.chunk_min_length,
        tags_page_max=settings.tags_page_max,
        catalog_page_max=settings.catalog_page_max,
        delete_enabled=settings.delete_enabled,
    )
    return Hub(settings, metadata, registry)


def create_app(settings: Settings) -> web.Application:
    hub = build_hub(settings)
    app = web.Application(middlewares=[registry_errors], client_max_size=MAX_FORM_BYTES)
    app[SERVICE_KEY] = hub.registry
    V2Api(hub.registry).add_routes(app)

    async def _close(_app: web.Application) -> None:
        await hub.metadata.close()

    app.on_cleanup.append(_close)
    return app


MAX_FORM_BYTES = 1024 * 1024
