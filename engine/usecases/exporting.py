"""`export`: the live managed rulesets written as YAML files, to adopt an existing org."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rulesync.errors import ConfigError
from rulesync.usecases import Notes, ignore, open_config

if TYPE_CHECKING:
    from rulesync.export import Result as Exported


@dataclass(frozen=True)
class ExportOptions:
    out_dir: Path | None = None  # default: the rulesets directory
    overwrite: bool = False  # update the files that already declare a live ruleset
    missing_only: bool = False  # write only the live rulesets no file declares
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportResult:
    exported: Exported  # what was written, skipped and warned about
    folder: str  # where, as shown to the user
    tip_schema: bool = False  # new files point editors at a schema file that does not exist

    @property
    def exit_code(self) -> int:
        return 0  # a refusal (a file already declares a live ruleset) is raised


def export(
    config_path: Path | None,
    env_name: str | None,
    options: ExportOptions = ExportOptions(),
    *,
    notes: Notes = ignore,
) -> ExportResult:
    """Write the live managed rulesets as YAML files (new files, or into those that declare
    them), so that planning right after shows no changes."""
    from rulesync.desired import matches
    from rulesync.export import Options, Project, merged_defaults, read_files
    from rulesync.export import export as run_export
    from rulesync.filenames import inside, write_files
    from rulesync.live import resource_name
    from rulesync.references import KINDS, References, labels_from
    from rulesync.session import connect

    if options.overwrite and options.missing_only:
        raise ConfigError("--overwrite and --missing-only exclude each other; pick one")
    config = open_config(config_path, notes)
    env = config.environment(env_name)
    target_dir = options.out_dir or config.rulesets_dir
    folders = [target_dir]
    if options.missing_only or inside(target_dir, config.rulesets_dir):
        folders.append(config.rulesets_dir)
    files = read_files(folders)
    project = Project(
        out_dir=target_dir,
        schema=config.root / "ruleset.schema.json",
        defaults=merged_defaults(config.defaults, env.defaults),
        overrides=env.overrides,
        environment=env.name,
        root=config.root,
    )
    with connect(config, env) as client:
        every = client.list_all("rulesets")
        live = [
            r for r in every if (n := resource_name(r)) is None or matches(n, config.policy.manage)
        ]
        refs = References({k: labels_from(k, client.list_all(KINDS[k][0])) for k in KINDS})
    if len(every) > len(live):
        notes(
            f"Note: {len(every) - len(live)} live rulesets are outside `manage`"
            f" {list(config.policy.manage)} and were not exported."
        )
    chosen = Options(
        targets=options.targets, missing_only=options.missing_only, overwrite=options.overwrite
    )
    result = run_export(live, refs=refs, project=project, files=files, options=chosen)
    write_files(result.writes, target_dir)
    return ExportResult(
        exported=result,
        folder=project.shown(target_dir),
        tip_schema=bool(result.new_files) and not project.schema.exists(),
    )
