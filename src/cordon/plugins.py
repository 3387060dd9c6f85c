"""Plugin hooks (pluggy). Cordon's own stages register through the same hooks as a partner's.

A plugin is a module (or object) with functions marked ``@hookimpl``; name it in the
``plugins`` setting to load it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from cordon.pipeline.runner import Stage

PROJECT = "cordon"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Modules of Cordon itself that implement hooks.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "cordon.notices.stages",
    "cordon.attribution.stage",
    "cordon.crawl.stage",
    "cordon.graph.stage",
    "cordon.matching.stage",
    "cordon.outcomes.stages",
)


class PluginError(Exception):
    """A plugin named in the settings cannot be loaded."""


class Hooks:
    @hookspec
    def cordon_stages(self) -> list[Stage]:  # type: ignore[empty-body]  # a specification only
        """Return the pipeline stages this plugin provides."""


def plugin_manager(extra: Sequence[str] = ()) -> pluggy.PluginManager:
    """A plugin manager with Cordon's own plugins and the modules named in ``extra``."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(Hooks)
    for name in (*BUILTIN_PLUGINS, *extra):
        try:
            module: Any = importlib.import_module(name)
        except ImportError as exc:
            raise PluginError(f"plugin {name!r} cannot be imported: {exc}") from exc
        pm.register(module, name=name)
    return pm


def stages(pm: pluggy.PluginManager) -> list[Stage]:
    """Every stage the loaded plugins provide, by name; a name given twice is an error."""
    found: dict[str, Stage] = {}
    for group in pm.hook.cordon_stages():
        for stage in group:
            if stage.name in found:
                raise PluginError(f"two plugins provide a stage named {stage.name!r}")
            found[stage.name] = stage
    return [found[k] for k in sorted(found)]
