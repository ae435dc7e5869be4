import sys

from kcc_cli.chaos.run import main

sys.exit(main())
