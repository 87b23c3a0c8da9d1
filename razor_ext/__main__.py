import sys

from razor_ext.cli import main

sys.exit(main())
