"""Bad input in rules: every problem reported with file, line and key; warnings for unknown entities."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from automations.config import load_rules, rule_warnings
from automations.cron import CronError, check, next_fire
from hub.config import load_config
from hub.errors import ConfigError
from hub.times import from_datetime, to_datetime

BROKEN = """\
automations:
  - id: one
    triggers:
      - trigger: state
        entity_id: Light.Bad
        to: "on"
    actions:
      - action: light.turn_on
        target: {entity_id: light.x}
        colour: red
  - id: two
    triggers:
      - trigger: cron
        cron: "0 0 31 2 *"
      - trigger: numeric_state
        entity_id: sensor.t
    conditions:
      - condition: time
        after: "25:00"
    actions:
      - delay: soon
      - action: notify.phone
        data: {message: "{{ states('x') "}
  - id: two
    triggers: [{trigger: teleport}]
    actions: []
scripts:
  bad script:
    sequence: []
schedules:
  - {id: s, cron: "61 * * * *", event: go}
  - {id: t, cron: "0 1 * * *"}
notify:
  - {name: phone, type: pushover, token: abc}
"""


def test_every_problem_is_reported_with_file_line_and_key(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = info.value.problems
    text = "\n".join(problems)
    f = str(path)
    expected = [
        (5, "automations[0].triggers[0].entity_id", "Light.Bad"),
        (10, "automations[0].actions[0].colour", "unknown key"),
        (14, "automations[1].triggers[0].cron", "never fires"),
        (15, "automations[1].triggers[1]", "needs `above`, `below` or both"),
        (19, "automations[1].conditions[0].after", "'25:00' is neither"),
        (21, "automations[1].actions[0].delay", "not a duration"),
        (23, "automations[1].actions[1].data.message", "template syntax error"),
        (24, "automations[2].id", "duplicate automation id 'two'"),
        (25, "automations[2].triggers[0].trigger", "unknown trigger 'teleport'"),
        (28, "scripts.bad script", "must be lowercase"),
        (31, "schedules[0].cron", "invalid cron"),
        (32, "schedules[1]", "needs an `event` to fire or `actions` to run"),
        (34, "notify[0]", "needs user"),
    ]
    for line, key, message in expected:
        assert any(p.startswith(f"{f}:{line}: {key}: ") and message in p for p in problems), (line, key, text)
    assert len(problems) == len(expected), text
    assert "abc" not in text


def test_included_files_name_their_own_path_and_line(tmp_path) -> None:
    folder = tmp_path / "automations"
    folder.mkdir()
    (folder / "good.yaml").write_text("- id: ok\n  triggers: [{trigger: event, event_type: go}]\n  actions: []\n")
    (folder / "bad.yaml").write_text("- id: broken\n  triggers:\n    - trigger: state\n      entity_id: light.a\n"
                                     "      form: 'on'\n  actions: []\n")
    path = tmp_path / "config.yaml"
    path.write_text("automations: !include_dir_merge_list automations\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [f"{folder / 'bad.yaml'}:5: automations[0].triggers[0].form: unknown key"]


def test_legacy_spellings_are_accepted(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("""
automations:
  - alias: Old style
    trigger:
      - platform: state
        entity_id: binary_sensor.a
        to: "on"
    condition: []
    action:
      - service: light.turn_on
        entity_id: light.a
""")
    rules = load_rules(load_config(path))
    assert rules.automations[0].id == "old_style"
    assert rules.automations[0].actions[0].action == "light.turn_on"


def test_unknown_entities_are_warnings_not_errors(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("""
automations:
  - id: a
    triggers: [{trigger: state, entity_id: binary_sensor.known, to: "on"}]
    actions: [{action: light.turn_on, target: {entity_id: light.later}}]
""")
    rules = load_rules(load_config(path))
    assert rule_warnings(rules, {"binary_sensor.known"}) == [
        "automations: entity light.later is not known (yet); rules naming it wait for it to appear"]


def test_cron_is_correct_across_daylight_saving_changes() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    t = from_datetime(datetime(2026, 3, 28, 12, tzinfo=timezone.utc))
    spring = []
    for _ in range(2):
        t = next_fire("30 2 * * *", t, berlin)
        spring.append(to_datetime(t, berlin).isoformat())
    # 02:30 does not exist on 29 March: it fires once, just after the jump; then normally.
    assert spring == ["2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"]
    t = from_datetime(datetime(2026, 10, 24, 12, tzinfo=timezone.utc))
    autumn = []
    for _ in range(2):
        t = next_fire("30 2 * * *", t, berlin)
        autumn.append(to_datetime(t, berlin).isoformat())
    # 02:30 happens twice on 25 October: it fires once, at the first.
    assert autumn == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    t = from_datetime(datetime(2026, 10, 24, 22, tzinfo=timezone.utc))
    hourly = [to_datetime(t := next_fire("0 * * * *", t, berlin), timezone.utc).hour for _ in range(4)]
    assert hourly == [23, 0, 2, 3]  # 00:00, 01:00, 02:00 CEST ... 03:00 CET; never backwards


@pytest.mark.parametrize("expr", ["0 0 31 2 *", "0 0 30 2 *"])
def test_cron_that_never_fires_is_an_error(expr: str) -> None:
    with pytest.raises(CronError, match="never fires"):
        check(expr, ZoneInfo("UTC"))
