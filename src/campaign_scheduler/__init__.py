"""campaign-scheduler: run a social-media campaign from the terminal."""

__version__ = "0.1.0"
