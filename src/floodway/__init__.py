"""floodway: a self-hosted CRM functions platform running Zoho Deluge functions."""

__version__ = "0.1.0"
