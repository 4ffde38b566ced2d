import sys

from ec2proxy.cli import main

sys.exit(main())
