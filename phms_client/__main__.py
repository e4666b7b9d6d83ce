import sys

from phms_client.app import main

sys.exit(main())
