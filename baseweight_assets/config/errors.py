"""The error raised for a missing or invalid config file."""


class ConfigError(ValueError):
    """A config file is missing or invalid; the message names the file, the field and what was expected."""
