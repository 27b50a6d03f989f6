"""Configuration that cannot silently do the wrong thing (SPEC §10 "Config")."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from rulesync.cli import main
from tests.helpers import Project, cwd


def test_an_environment_without_api_url_is_an_error_not_an_embedded_org(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.write(
        "rulesync.yaml",
        """\
        environments:
          local: {}
          production:
            auth: {access_token_env: OUTREACH_ACCESS_TOKEN}
        """,
    )
    project.ruleset("Inbound")
    for args in (("validate",), ("--env", "production", "plan"), ("--env", "local", "plan")):
        result = project.run(*args)
        assert result.exit_code == 1, (args, result.output)
        assert "rulesync.yaml:4:5: environments.production.api_url: missing" in result.output
        assert "`api_url: embedded` for the built-in emulator" in result.output
    assert not (tmp_path / ".rulesync" / "production.sqlite").exists()


def test_embedded_may_be_stated_explicitly(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.write("rulesync.yaml", "environments:\n  local: {}\n  staging: {api_url: embedded}\n")
    project.ruleset("Inbound")
    assert project.run("validate").exit_code == 0
    assert project.run("--env", "staging", "plan").exit_code == 0


def test_validate_reports_every_config_mistake_at_once(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.write(
        "rulesync.yaml",
        """\
        environments:
          local: {}
          noauth:
            api_url: https://api.outreach.io/api/v2
          ftp:
            api_url: ftp://example.com/api
          typo:
            api_url: Embedded
          secret:
            api_url: https://api.outreach.io/api/v2
            auth: {access_token_env: "abc.def-123 secret"}
          halfoauth:
            api_url: https://api.outreach.io/api/v2
            auth: {client_id_env: ID, refresh_token_env: REFRESH}
          both:
            api_url: https://api.outreach.io/api/v2
            auth:
              access_token_env: TOKEN
              client_id_env: ID
              client_secret_env: SECRET
              refresh_token_env: REFRESH
        """,
    )
    project.ruleset("Inbound")
    result = project.run("validate")
    assert result.exit_code == 1
    out = result.output
    assert "rulesync.yaml:4:5: environments.noauth.auth: missing for the remote API" in out
    assert "rulesync.yaml:6:14: environments.ftp.api_url: must be an http(s) URL" in out
    assert "rulesync.yaml:8:14: environments.typo.api_url: must be an http(s) URL or" in out
    assert "did you mean 'embedded'?" in out
    assert "rulesync.yaml:11:30: environments.secret.auth.access_token_env: is not an env" in out
    assert "abc.def-123" not in out  # possibly a pasted secret: never echoed
    assert "rulesync.yaml:14:11: environments.halfoauth.auth: incomplete OAuth settings: also" in (
        out
    )
    assert "set client_secret_env" in out
    assert "rulesync.yaml:18:25: environments.both.auth.access_token_env: set either" in out
    assert "6 problems found" in out


def test_rulesync_yaml_is_found_in_a_folder_above(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.write("rulesync.yaml", "environments:\n  local: {}\n")
    project.ruleset("Inbound", file="team/inbound")
    with cwd(tmp_path / "rulesets" / "team"):
        result = CliRunner().invoke(main, ["validate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Using ../../rulesync.yaml" in result.stderr
    assert "Valid: 1 rulesets" in result.stdout
    with cwd(tmp_path):
        here = CliRunner().invoke(main, ["validate"], catch_exceptions=False)
    assert "Using" not in here.stderr
