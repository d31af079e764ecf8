"""A small Dockerfile reader: instructions with continuation lines joined, comments dropped."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests.deploy.compose_files import ROOT

BACKEND = ROOT / "python" / "Dockerfile"
FRONTEND = ROOT / "archon-ui-main" / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: int  # index of the FROM this instruction belongs to

    def exec_form(self) -> list[str]:
        """The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD arguments."""
        text = self.args
        if self.keyword == "HEALTHCHECK":
            text = text[text.index("CMD") + 3:]
        return list(json.loads(text.strip()))


def parse(path: Path) -> list[Instruction]:
    """The instructions of `path` in order."""
    instructions: list[Instruction] = []
    stage, pending = -1, ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comments inside a continued instruction are dropped by Docker too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text, pending = pending + line, ""
        keyword, _, args = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    return instructions


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    """The instructions of the last stage (what the image runs)."""
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def env_of(instructions: list[Instruction]) -> dict[str, str]:
    """ENV KEY=VALUE pairs set in these instructions."""
    env: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "ENV":
            for pair in ins.args.split():
                key, _, value = pair.partition("=")
                env[key] = value
    return env
