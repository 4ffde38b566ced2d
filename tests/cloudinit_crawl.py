"""Crawl a metadata service with cloud-init's own EC2 datasource (run by the system Python that has it).

Usage: python3 cloudinit_crawl.py URL WORKDIR -> prints JSON: the crawl, the token and the API version used.
"""

import base64
import json
import sys

from cloudinit import distros, helpers
from cloudinit.sources import DataSourceEc2

url, workdir = sys.argv[1], sys.argv[2]
paths = helpers.Paths({"run_dir": workdir, "cloud_dir": workdir})
distro = distros.fetch("debian")("debian", {}, paths)
config = {"datasource": {"Ec2": {"metadata_urls": [url], "timeout": 5, "max_wait": 20}}}
source = DataSourceEc2.DataSourceEc2(config, distro, paths)
source._cloud_name = DataSourceEc2.CloudNames.AWS  # as on EC2: IMDSv2 token first, identity document too
crawled = source.crawl_metadata()
user_data = crawled.get("user-data")
print(json.dumps({
    "crawled": {k: v for k, v in crawled.items() if k != "user-data"},
    "user_data": base64.b64encode(user_data).decode() if isinstance(user_data, bytes) else user_data,
    "token": bool(source._api_token),
}, default=str))
