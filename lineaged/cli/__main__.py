import sys

from lineaged.cli.app import main

sys.exit(main())
