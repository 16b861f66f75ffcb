"""The built-in `sun.sun` entity: solar elevation, above/below horizon, next rising and setting,
from the configured latitude and longitude (NOAA's solar equations, accurate to about a minute)."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from hub.integration import EntityInfo, Integration, IntegrationConfig

SUN_ENTITY = "sun.sun"
HORIZON = -0.833  # degrees: refraction and the sun's radius


def _julian_century(when: datetime) -> float:
    jd = when.timestamp() / 86400.0 + 2440587.5
    return (jd - 2451545.0) / 36525.0


def _declination_and_eot(t: float) -> tuple[float, float]:
    """Solar declination (degrees) and the equation of time (minutes) at Julian century t."""
    l0 = (280.46646 + t * (36000.76983 + t * 0.0003032)) % 360
    m = 357.52911 + t * (35999.05029 - 0.0001537 * t)
    e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    mr = math.radians(m)
    c = (math.sin(mr) * (1.914602 - t * (0.004817 + 0.000014 * t)) + math.sin(2 * mr) * (0.019993 - 0.000101 * t)
         + math.sin(3 * mr) * 0.000289)
    true_long = l0 + c
    omega = 125.04 - 1934.136 * t
    app_long = true_long - 0.00569 - 0.00478 * math.sin(math.radians(omega))
    eps0 = 23 + (26 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60) / 60
    eps = eps0 + 0.00256 * math.cos(math.radians(omega))
    decl = math.degrees(math.asin(math.sin(math.radians(eps)) * math.sin(math.radians(app_long))))
    y = math.tan(math.radians(eps / 2)) ** 2
    l0r = math.radians(l0)
    eot = 4 * math.degrees(y * math.sin(2 * l0r) - 2 * e * math.sin(mr) + 4 * e * y * math.sin(mr) * math.cos(2 * l0r)
                           - 0.5 * y * y * math.sin(4 * l0r) - 1.25 * e * e * math.sin(2 * mr))
    return decl, eot


def solar_position(when: datetime, latitude: float, longitude: float) -> tuple[float, float]:
    """(elevation, azimuth) of the sun in degrees at `when` (aware datetime)."""
    when = when.astimezone(timezone.utc)
    decl, eot = _declination_and_eot(_julian_century(when))
    minutes = when.hour * 60 + when.minute + when.second / 60 + when.microsecond / 6e7
    true_solar = (minutes + eot + 4 * longitude) % 1440
    hour_angle = true_solar / 4 - 180
    lat, dec, ha = math.radians(latitude), math.radians(decl), math.radians(hour_angle)
    cos_zenith = math.sin(lat) * math.sin(dec) + math.cos(lat) * math.cos(dec) * math.cos(ha)
    zenith = math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))
    elevation = 90 - zenith
    denom = math.cos(lat) * math.sin(math.radians(zenith))
    if abs(denom) < 1e-9:
        azimuth = 180.0
    else:
        cos_az = (math.sin(lat) * math.cos(math.radians(zenith)) - math.sin(dec)) / denom
        az = math.degrees(math.acos(max(-1.0, min(1.0, cos_az))))
        azimuth = (az + 180) % 360 if hour_angle > 0 else (540 - az) % 360
    return elevation, azimuth


def event_on_day(day: datetime, latitude: float, longitude: float, rising: bool,
                  altitude: float = HORIZON) -> datetime | None:
    """Sunrise (rising=True) or sunset on the UTC date of `day`, or None (polar day/night)."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)
    result = None
    guess = noon
    for _ in range(3):  # refine with the declination at the event itself
        decl, eot = _declination_and_eot(_julian_century(guess))
        lat, dec = math.radians(latitude), math.radians(decl)
        cos_ha = (math.sin(math.radians(altitude)) - math.sin(lat) * math.sin(dec)) / (math.cos(lat) * math.cos(dec))
        if cos_ha < -1 or cos_ha > 1:
            return None
        ha = math.degrees(math.acos(cos_ha))
        solar_noon = 720 - 4 * longitude - eot
        minutes = solar_noon - 4 * ha if rising else solar_noon + 4 * ha
        result = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(minutes=minutes)
        guess = result
    return result


def next_event(after: datetime, latitude: float, longitude: float, rising: bool,
               altitude: float = HORIZON) -> datetime | None:
    """The first sunrise (or sunset) strictly after `after`, searching a year ahead."""
    after = after.astimezone(timezone.utc)
    for offset in range(-1, 367):
        day = after + timedelta(days=offset)
        when = event_on_day(day, latitude, longitude, rising, altitude)
        if when is not None and when > after:
            return when
    return None


def sun_state(when: datetime, latitude: float, longitude: float) -> tuple[str, dict[str, Any]]:
    """The state and attributes of sun.sun at `when`, as Home Assistant names them."""
    elevation, azimuth = solar_position(when, latitude, longitude)
    rising_elev, _ = solar_position(when + timedelta(minutes=5), latitude, longitude)
    attrs: dict[str, Any] = {
        "elevation": round(elevation, 2),
        "azimuth": round(azimuth, 2),
        "rising": rising_elev > elevation,
        "friendly_name": "Sun",
    }
    for key, rising, alt in (("next_rising", True, HORIZON), ("next_setting", False, HORIZON),
                             ("next_dawn", True, -6.0), ("next_dusk", False, -6.0)):
        at = next_event(when, latitude, longitude, rising, alt)
        attrs[key] = at.isoformat() if at else None
    return ("above_horizon" if elevation > HORIZON else "below_horizon"), attrs


class SunConfig(IntegrationConfig):
    type: Literal["sun"] = "sun"
    id: str = "sun"
    latitude: float = 0.0
    longitude: float = 0.0
    interval: float = 60.0


class SunIntegration(Integration):
    """Keeps sun.sun current; built into every daemon (not configured under integrations)."""

    type = "sun"
    config_model = SunConfig
    config: SunConfig

    async def run(self) -> None:
        await self.ctx.register_entity(EntityInfo(SUN_ENTITY, name="Sun"))
        await self.ctx.status("connected", f"lat {self.config.latitude}, lon {self.config.longitude}")
        while True:
            now = datetime.now(timezone.utc)
            state, attrs = sun_state(now, self.config.latitude, self.config.longitude)
            current = self.ctx.state(SUN_ENTITY)
            if current is None or current.state != state or current.attributes.get("next_rising") != \
                    attrs["next_rising"] or current.attributes.get("next_setting") != attrs["next_setting"]:
                await self.ctx.set_state(SUN_ENTITY, state, attrs)
            # Wake at the next crossing if it comes before the regular refresh.
            waits = [self.config.interval]
            for key in ("next_rising", "next_setting"):
                if attrs[key]:
                    waits.append((datetime.fromisoformat(attrs[key]) - now).total_seconds() + 1)
            await asyncio.sleep(max(1.0, min(waits)))

