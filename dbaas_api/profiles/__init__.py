"""The control planes ``dbaas`` runs: the embedded default (embedded/lifecycle.py), the
production profile (production.py), and the API alone before an operator's Heat
(external.py, when DBAAS_HEAT_URL is set). A state dir remembers the profile it was last brought up
with (run/profile), so that ``dbaas down`` and ``status`` need not be told again."""
from dataclasses import replace


def remembered(settings):
    """The profile the state dir was brought up with, else the settings' own."""
    try:
        return (settings.state_dir / "run" / "profile").read_text().strip() or settings.profile
    except OSError:
        return settings.profile


def control_plane(settings, profile=None):
    """Embedded or Production for these settings; ``profile`` (from ``--profile``) wins over
    the remembered one, which wins over DBAAS_PROFILE."""
    profile = profile or remembered(settings)
    settings = replace(settings, profile=profile)
    if settings.heat_url:   # an operator's Heat: the API alone
        from dbaas_api.profiles.external import External
        return External(settings)
    if profile == "production":
        from dbaas_api.profiles.production import Production
        return Production(settings)
    from dbaas_api.embedded.lifecycle import Embedded
    return Embedded(settings)
