"""Every model module, imported in one place so that Alembic sees the whole schema."""

from __future__ import annotations


def import_all_models() -> None:
    import veriscan.accounts.models
    import veriscan.audit.models
    import veriscan.batches.models
    import veriscan.cases.models
    import veriscan.comments.models
    import veriscan.files.models
    import veriscan.keys.models
    import veriscan.malware.models
    import veriscan.media.models
    import veriscan.notifications.models
    import veriscan.sharing.models  # noqa: F401
