"""Registry facts for ``dockpin check`` when it is online (DP004, DP005).

Kept apart from cli.py so that the offline check never imports httpx.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from dockpin.config import Config
from dockpin.facts import RegistryFacts
from dockpin.pin import cache_dir_from_env
from dockpin.pinning import Resolver, registry_config, registry_facts
from dockpin.registry import RegistryClient
from dockpin.syntax import Dockerfile


def facts_for_files(
    files: Sequence[tuple[Dockerfile, Config]],
) -> tuple[list[RegistryFacts], list[str]]:
    """Facts per file, and notes on registries that could not be asked (their
    references are skipped by DP004/DP005, never reported as broken)."""
    return asyncio.run(_facts(files))


async def _facts(
    files: Sequence[tuple[Dockerfile, Config]],
) -> tuple[list[RegistryFacts], list[str]]:
    resolvers: dict[int, Resolver] = {}
    clients: list[RegistryClient] = []
    try:
        for _, config in files:
            if id(config) not in resolvers:
                client = RegistryClient(registry_config(config, cache_dir=cache_dir_from_env()))
                await client.__aenter__()
                clients.append(client)
                resolvers[id(config)] = Resolver(client)
        answers = await asyncio.gather(
            *(registry_facts(resolvers[id(config)], dockerfile) for dockerfile, config in files)
        )
    finally:
        for client in clients:
            await client.__aexit__(None, None, None)
    notes: dict[str, None] = {}
    for answer in answers:
        for facts in answer.by_reference.values():
            if facts.error is not None:
                notes[f"registry checks skipped: {facts.error}"] = None
    return list(answers), list(notes)
