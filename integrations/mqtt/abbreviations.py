"""Home Assistant's abbreviated discovery keys (`stat_t` for `state_topic`, ...), expanded on receipt.

The table follows Home Assistant's MQTT discovery documentation; keys not listed are
taken as written, so a device that sends full names works as well.
"""

from __future__ import annotations

from typing import Any

ABBREVIATIONS: dict[str, str] = {
    "act_t": "action_topic", "act_tpl": "action_template", "atype": "automation_type",
    "aux_cmd_t": "aux_command_topic", "aux_stat_t": "aux_state_topic", "aux_stat_tpl": "aux_state_template",
    "av_tones": "available_tones", "avty": "availability", "avty_mode": "availability_mode",
    "avty_t": "availability_topic", "avty_tpl": "availability_template",
    "b_tpl": "blue_template", "bri_cmd_t": "brightness_command_topic",
    "bri_cmd_tpl": "brightness_command_template", "bri_scl": "brightness_scale",
    "bri_stat_t": "brightness_state_topic", "bri_tpl": "brightness_template",
    "bri_val_tpl": "brightness_value_template",
    "clr_temp_cmd_t": "color_temp_command_topic", "clr_temp_cmd_tpl": "color_temp_command_template",
    "clr_temp_stat_t": "color_temp_state_topic", "clr_temp_tpl": "color_temp_template",
    "clr_temp_val_tpl": "color_temp_value_template", "clrm": "color_mode",
    "clrm_stat_t": "color_mode_state_topic", "clrm_val_tpl": "color_mode_value_template",
    "cmd_off_tpl": "command_off_template", "cmd_on_tpl": "command_on_template",
    "cmd_t": "command_topic", "cmd_tpl": "command_template",
    "cod_arm_req": "code_arm_required", "cod_dis_req": "code_disarm_required",
    "cod_trig_req": "code_trigger_required",
    "curr_temp_t": "current_temperature_topic", "curr_temp_tpl": "current_temperature_template",
    "dev": "device", "dev_cla": "device_class", "e": "encoding", "en": "enabled_by_default",
    "ent_cat": "entity_category", "evt_typ": "event_types", "exp_aft": "expire_after",
    "fan_mode_cmd_t": "fan_mode_command_topic", "fan_mode_cmd_tpl": "fan_mode_command_template",
    "fan_mode_stat_t": "fan_mode_state_topic", "fan_mode_stat_tpl": "fan_mode_state_template",
    "fan_modes": "fan_modes", "frc_upd": "force_update", "fx_cmd_t": "effect_command_topic",
    "fx_cmd_tpl": "effect_command_template", "fx_list": "effect_list", "fx_stat_t": "effect_state_topic",
    "fx_tpl": "effect_template", "fx_val_tpl": "effect_value_template",
    "g_tpl": "green_template", "hs_cmd_t": "hs_command_topic", "hs_cmd_tpl": "hs_command_template",
    "hs_stat_t": "hs_state_topic", "hs_val_tpl": "hs_value_template", "ic": "icon", "init": "initial",
    "json_attr": "json_attributes", "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template",
    "max_mirs": "max_mireds", "min_mirs": "min_mireds", "max_temp": "max_temp", "min_temp": "min_temp",
    "max_kelvin": "max_kelvin", "min_kelvin": "min_kelvin",
    "mode_cmd_t": "mode_command_topic", "mode_cmd_tpl": "mode_command_template",
    "mode_stat_t": "mode_state_topic", "mode_stat_tpl": "mode_state_template", "modes": "modes",
    "name": "name", "obj_id": "object_id", "def_ent_id": "default_entity_id", "off_dly": "off_delay",
    "on_cmd_type": "on_command_type", "ops": "options", "opt": "optimistic",
    "osc_cmd_t": "oscillation_command_topic", "osc_cmd_tpl": "oscillation_command_template",
    "osc_stat_t": "oscillation_state_topic", "osc_val_tpl": "oscillation_value_template",
    "pct_cmd_t": "percentage_command_topic", "pct_cmd_tpl": "percentage_command_template",
    "pct_stat_t": "percentage_state_topic", "pct_val_tpl": "percentage_value_template",
    "pl": "payload", "pl_arm_away": "payload_arm_away", "pl_arm_home": "payload_arm_home",
    "pl_arm_nite": "payload_arm_night", "pl_arm_vacation": "payload_arm_vacation",
    "pl_arm_custom_b": "payload_arm_custom_bypass", "pl_avail": "payload_available",
    "pl_cls": "payload_close", "pl_disarm": "payload_disarm", "pl_home": "payload_home",
    "pl_lock": "payload_lock", "pl_not_avail": "payload_not_available", "pl_not_home": "payload_not_home",
    "pl_off": "payload_off", "pl_on": "payload_on", "pl_open": "payload_open",
    "pl_osc_off": "payload_oscillation_off", "pl_osc_on": "payload_oscillation_on",
    "pl_prs": "payload_press", "pl_rst": "payload_reset", "pl_stop": "payload_stop",
    "pl_trig": "payload_trigger", "pl_unlk": "payload_unlock",
    "pos_clsd": "position_closed", "pos_open": "position_open", "pos_t": "position_topic",
    "pos_tpl": "position_template",
    "pow_cmd_t": "power_command_topic", "pow_cmd_tpl": "power_command_template",
    "pr_mode_cmd_t": "preset_mode_command_topic", "pr_mode_cmd_tpl": "preset_mode_command_template",
    "pr_mode_stat_t": "preset_mode_state_topic", "pr_mode_val_tpl": "preset_mode_value_template",
    "pr_modes": "preset_modes", "r_tpl": "red_template", "ret": "retain",
    "rgb_cmd_t": "rgb_command_topic", "rgb_cmd_tpl": "rgb_command_template",
    "rgb_stat_t": "rgb_state_topic", "rgb_val_tpl": "rgb_value_template",
    "set_pos_t": "set_position_topic", "set_pos_tpl": "set_position_template",
    "spd_rng_max": "speed_range_max", "spd_rng_min": "speed_range_min",
    "src_type": "source_type", "stat_cla": "state_class", "stat_clsd": "state_closed",
    "stat_closing": "state_closing", "stat_jam": "state_jammed", "stat_locked": "state_locked",
    "stat_locking": "state_locking", "stat_off": "state_off", "stat_on": "state_on",
    "stat_open": "state_open", "stat_opening": "state_opening", "stat_stopped": "state_stopped",
    "stat_unlocked": "state_unlocked", "stat_unlocking": "state_unlocking",
    "stat_t": "state_topic", "stat_tpl": "state_template", "stat_val_tpl": "state_value_template",
    "step": "step", "stype": "subtype", "sup_clrm": "supported_color_modes",
    "sup_dur": "support_duration", "sup_feat": "supported_features", "sup_vol": "support_volume_set",
    "swing_mode_cmd_t": "swing_mode_command_topic", "swing_mode_stat_t": "swing_mode_state_topic",
    "t": "topic", "temp_cmd_t": "temperature_command_topic", "temp_cmd_tpl": "temperature_command_template",
    "temp_stat_t": "temperature_state_topic", "temp_stat_tpl": "temperature_state_template",
    "temp_unit": "temperature_unit", "tilt_cmd_t": "tilt_command_topic", "tilt_status_t": "tilt_status_topic",
    "uniq_id": "unique_id", "unit_of_meas": "unit_of_measurement", "val_tpl": "value_template",
    "whit_cmd_t": "white_command_topic", "whit_scl": "white_scale",
    "xy_cmd_t": "xy_command_topic", "xy_stat_t": "xy_state_topic", "xy_val_tpl": "xy_value_template",
}

DEVICE_ABBREVIATIONS: dict[str, str] = {
    "cns": "connections", "cu": "configuration_url", "ids": "identifiers", "name": "name",
    "mf": "manufacturer", "mdl": "model", "mdl_id": "model_id", "hw": "hw_version", "sw": "sw_version",
    "sa": "suggested_area", "sn": "serial_number", "via_device": "via_device",
}

ORIGIN_ABBREVIATIONS: dict[str, str] = {"name": "name", "sw": "sw_version", "url": "support_url"}


def expand(config: dict[str, Any]) -> dict[str, Any]:
    """Full key names, and the `~` base topic substituted into every `*_topic` (and `topic`) value."""
    out = {ABBREVIATIONS.get(k, k): v for k, v in config.items()}
    device = out.get("device")
    if isinstance(device, dict):
        out["device"] = {DEVICE_ABBREVIATIONS.get(k, k): v for k, v in device.items()}
    origin = out.pop("o", None)
    if isinstance(origin, dict):
        out["origin"] = {ORIGIN_ABBREVIATIONS.get(k, k): v for k, v in origin.items()}
    availability = out.get("availability")
    if isinstance(availability, list):
        out["availability"] = [
            {ABBREVIATIONS.get(k, k): v for k, v in item.items()} if isinstance(item, dict) else item
            for item in availability
        ]
    base = out.get("~")
    if isinstance(base, str):
        out = {k: _substitute(k, v, base) for k, v in out.items()}
        if isinstance(out.get("availability"), list):
            out["availability"] = [
                {k: _substitute(k, v, base) for k, v in item.items()} if isinstance(item, dict) else item
                for item in out["availability"]
            ]
    return out


def _substitute(key: str, value: Any, base: str) -> Any:
    """`~/set` -> `<base>/set` and `state/~` -> `state/<base>`, as Home Assistant does."""
    if not (key == "topic" or key.endswith("_topic")) or not isinstance(value, str):
        return value
    if value.startswith("~"):
        return base + value[1:]
    if value.endswith("~"):
        return value[:-1] + base
    return value
