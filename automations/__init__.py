"""The rule engine: Home Assistant-style automations, scripts, schedules, notifications and replay."""
