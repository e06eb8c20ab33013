"""``python -m course_lib``: the course's command line (see :mod:`course_lib.cli`)."""
from course_lib.cli import main

raise SystemExit(main())
