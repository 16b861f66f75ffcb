"""Configuration: errors name the file, the line and the key; tags work; every problem is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import load_config
from hub.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_repository_config_is_valid() -> None:
    cfg = load_config(Path(__file__).parents[2] / "config.yaml")
    assert [c.id for c in cfg.integration_configs][:1] == ["demo"]
    assert cfg.hub.timezone == "Europe/Berlin"


def test_errors_name_file_line_and_key(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config.yaml", "hub:\n  name: Home\n  timezone: Mars/Olympus\n  latitud: 4\n"
                "integrations:\n  - {type: demo, id: demo}\n  - type: nonesuch\n  - type: demo\n    id: demo\n"
                "    interval: -1\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    problems = info.value.problems
    text = "\n".join(problems)
    assert f"{cfg}:3: hub.timezone: Value error, unknown time zone 'Mars/Olympus'" in text
    assert f"{cfg}:4: hub.latitud: unknown key" in text
    assert f"{cfg}:7: integrations[1].type: unknown integration type 'nonesuch'" in text
    assert f"{cfg}:10: integrations[2].interval:" in text
    assert f"{cfg}:9: integrations[2].id: duplicate integration id 'demo'" in text


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config.yaml", "hub:\n  name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"config.yaml:\d+: YAML syntax error"):
        load_config(cfg)


def test_env_secret_and_include(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_TOKEN", "s3cret")
    write(tmp_path / "secrets.yaml", "db: other.db\n")
    write(tmp_path / "extra.yaml", "- {type: demo, id: demo2}\n")
    cfg = load_config(write(tmp_path / "config.yaml",
                            "hub: {database: !secret db}\nmcp: {token: !env HUB_TEST_TOKEN}\n"
                            "integrations: !include extra.yaml\n"))
    assert cfg.database_url == str((tmp_path / "other.db").resolve())
    assert cfg.mcp.token is not None and cfg.mcp.token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(cfg.mcp)
    assert cfg.integration_configs[0].id == "demo2"
    with pytest.raises(ConfigError, match="!secret nope is not in secrets.yaml"):
        load_config(write(tmp_path / "c2.yaml", "hub: {name: !secret nope}\n"))
    with pytest.raises(ConfigError, match="environment variable HUB_UNSET_VAR is not set"):
        load_config(write(tmp_path / "c3.yaml", "hub: {name: !env HUB_UNSET_VAR}\n"))


def test_relative_database_is_relative_to_the_config(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    cfg = load_config(write(sub / "config.yaml", "hub: {database: data/x.db}\n"))
    assert cfg.database_url == str((sub / "data" / "x.db").resolve())
