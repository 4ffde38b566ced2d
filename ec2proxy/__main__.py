import sys

from ec2proxy.runtime.cli import main

sys.exit(main())
