"""Where Byline's own files are, wherever the process was started from."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _alembic_ini() -> Path:
    # A source checkout keeps alembic.ini beside app/; an installed package (the Docker
    # image) finds it in the working directory instead.
    for candidate in (ROOT / "alembic.ini", Path.cwd() / "alembic.ini"):
        if candidate.exists():
            return candidate
    return ROOT / "alembic.ini"


ALEMBIC_INI = _alembic_ini()
