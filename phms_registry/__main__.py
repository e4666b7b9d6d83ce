import sys

from phms_registry.cli import main

sys.exit(main())
