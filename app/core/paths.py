"""Where Byline's own files are, wherever the process was started from."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = ROOT / "alembic.ini"
EXAMPLES = ROOT / "examples"
