import sys

from dekube_nspawn.cli import main

sys.exit(main())
