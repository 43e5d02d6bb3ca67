"""The run's templates filled in: each child's argv and environment.

A scenario's argv and env are templates; their placeholders (see
scenario_keys.PLACEHOLDERS, and one per service) get values once the services
have printed their URLs. The children's environment is the explorer's own,
minus the checkpoint variables of an enclosing run, plus the scenario's `env`,
plus each service's URL under its `url_env`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from explorer.events import ChildSpec
from explorer.scenario import Command, Scenario, expand

# An explorer run inside another's child must not talk to the outer run's socket.
STRIPPED_ENV = ("RACE_EXPLORER_SOCKET", "RACE_EXPLORER_CHILD")


def inherited_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}


@dataclass(frozen=True)
class Expansion:
    scenario: Scenario
    values: dict[str, str]  # placeholder -> value
    env: dict[str, str]  # every child's environment

    @classmethod
    def of(cls, scenario: Scenario, values: dict[str, str]) -> Expansion:
        env = inherited_env()
        env["PYTHONUNBUFFERED"] = "1"  # stream a Python child's lines as they are printed
        env.update({k: expand(v, values) for k, v in scenario.env.items()})
        for service in scenario.services:
            if service.url_env:
                env[service.url_env] = values[service.name]
        return cls(scenario, values, env)

    def spec(self, child: int, command: Command) -> ChildSpec:
        argv = [expand(part, self.values) for part in command.argv]
        return ChildSpec(child=child, label=command.label, argv=argv)

    def at(self, repo: Path) -> Expansion:
        """The same run pointed at another repo dir (a copy, for the healer)."""
        values = {**self.values, "repo": str(repo)}
        env = {**self.env, **{k: expand(v, values) for k, v in self.scenario.env.items()}}
        return Expansion(self.scenario, values, env)
