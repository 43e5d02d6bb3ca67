"""The run's templates filled in: each child's argv and environment, the stores' paths.

A scenario's argv, env and store paths are templates; their placeholders (see
scenario_keys.PLACEHOLDERS, `{env:NAME}`, and one per service) get values once
the services have printed their URLs. The children's environment is what they
inherit of the explorer's (all of it, none, or the names `inherit_env` allows),
minus the checkpoint variables of an enclosing run and the names the scenario
unsets, plus the scenario's `env`, plus each service's URL under its `url_env`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from explorer.events import ChildSpec
from explorer.scenario import Command, Scenario
from explorer.scenario_values import ScenarioError, expand
from explorer.stores import StoreSpec, store_path

# An explorer run inside another's child must not talk to the outer run's socket.
STRIPPED_ENV = ("RACE_EXPLORER_SOCKET", "RACE_EXPLORER_CHILD")


def inherited_env(scenario: Scenario | None = None) -> dict[str, str]:
    allowed = True if scenario is None else scenario.inherit_env
    unset = set(STRIPPED_ENV) | set(scenario.unset_env if scenario else ())
    return {k: v for k, v in os.environ.items()
            if k not in unset and (allowed is True or (allowed is not False and k in allowed))}


@dataclass(frozen=True)
class Expansion:
    scenario: Scenario
    values: dict[str, str]  # placeholder -> value
    env: dict[str, str]  # every child's environment

    @classmethod
    def of(cls, scenario: Scenario, values: dict[str, str]) -> Expansion:
        env = inherited_env(scenario)
        env["PYTHONUNBUFFERED"] = "1"  # stream a Python child's lines as they are printed
        env.update({k: expand(v, values) for k, v in scenario.env.items()})
        for service in scenario.services:
            if service.url_env:
                env[service.url_env] = values[service.name]
        return cls(scenario, values, env)

    def spec(self, child: int, command: Command) -> ChildSpec:
        argv = [expand(part, self.values) for part in command.argv]
        return ChildSpec(child=child, label=command.label, argv=argv)

    def stores(self) -> tuple[StoreSpec, ...]:
        """The scenario's stores with their paths filled in, relative to the repo dir."""
        out = []
        for spec in self.scenario.stores:
            value = expand(spec.path, self.values)
            path = store_path(value, Path(self.values["repo"]))
            if path is None:
                raise ScenarioError(f"{self.scenario.path or 'default scenario'}: stores."
                                    f"{spec.name}.path: expected a path inside the repo dir, "
                                    f"got {value!r}")
            out.append(StoreSpec(spec.name, spec.kind, path, spec.query))
        return tuple(out)

