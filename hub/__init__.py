"""hub: an event-sourced home-automation hub."""

__version__ = "0.1.0"
