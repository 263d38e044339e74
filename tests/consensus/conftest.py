"""Make the repository root importable when pytest runs without pytest-django (``-p no:django``).

pytest-django puts the directory of ``manage.py`` on ``sys.path``; the consensus tests need no
Django, so they must also import ``workflows`` when that plugin is off.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
